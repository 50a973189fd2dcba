// rtlat-load: the load generators of `rtlat measure --load` and `rtlat sweep --load`.
//
// One rtlat-load process (the supervisor) runs one generator: it forks the generator's workers,
// tells rtlat "ready" once they all run, and on SIGTERM kills them and prints one JSON line with
// the operations they did. Nothing outlives rtlat: the supervisor's parent-death signal is SIGTERM
// (the normal stop path), and every worker's is SIGKILL (in case the supervisor itself is killed).
#ifndef RTLAT_LOAD_H
#define RTLAT_LOAD_H

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define LOAD_MAX_WORKERS 8
#define LOAD_IPC_PAIRS 4

/** One operation counter per worker, each on its own cache line, in memory shared across fork(). */
struct load_counter {
  _Alignas(64) uint64_t operations;
};

struct load;

/** A worker's body: sets itself up, calls load_worker_ready(), then loops until killed. Returns only on a set-up error. */
typedef int (*load_worker_fn)(struct load *load, int index);

struct load_worker {
  load_worker_fn run;
  /** The CPU the worker is pinned to. */
  int cpu;
  pid_t pid;
};

struct load {
  const char *kind;
  int cpu;
  /** ipc: the CPU of the receiving side (the next load CPU), so each message wakes a task across CPUs. */
  int peer_cpu;
  /** io: where the (nameless) temporary file lives. */
  const char *dir;
  int worker_count;
  struct load_worker workers[LOAD_MAX_WORKERS];
  struct load_counter *counters;
  /** The write end of the ready pipe, open only in workers until they are ready. */
  int ready_fd;
  /** ipc: one pipe per receiver; every sender writes to all of them. */
  int ipc_pipes[LOAD_IPC_PAIRS][2];
};

/** Fills in load->workers for load->kind; returns 0, or -1 after printing why. */
int load_plan(struct load *load);

/** Called by a worker once set up: the supervisor announces "ready" when every worker has called it. */
void load_worker_ready(struct load *load);

/** Adds to a worker's operation count (a relaxed store: only the worker writes its counter). */
static inline void load_count(struct load *load, int index, uint64_t operations) {
  struct load_counter *counter = &load->counters[index];
  __atomic_store_n(&counter->operations, counter->operations + operations, __ATOMIC_RELAXED);
}

/** Prints "rtlat-load: <what>: <strerror(errno)>" on stderr and returns 1. */
int load_fail(const char *what);

// Shared by the two supervisors (main.c).
uint64_t load_now_ns(void);
void load_sleep_ms(int ms);
/** Pins `pid` (0: the caller) to `cpus`; returns 0, or 1 after printing why. */
int load_pin(pid_t pid, const cpu_set_t *cpus, int cpu_for_message);
/** In a forked child: the default handlers and the mask the supervisor started with. */
void load_child_signals(const sigset_t *original_mask);
/** Asks for `signal_number` when the parent dies; returns 0, -1 when it is already gone, 1 on error. */
int load_die_with_parent(pid_t expected_parent, int signal_number);
void load_announce_ready(void);
/** The final line: `operations_json` is a number or null. */
void load_report(const char *operations_json, uint64_t elapsed_ns);
/**
 * Sleeps until SIGTERM (returns 0) or until `child_ended` says a child ended on its own (returns -1);
 * `child_ended` runs after each SIGCHLD.
 */
int load_wait_for_stop(const sigset_t *waiting_mask, int (*child_ended)(void *context), void *context);

/** Runs the workers of a native generator (workers.c). */
int load_supervise_workers(struct load *load, const sigset_t *original_mask, const sigset_t *waiting_mask);
/** Runs COMMAND (e.g. stress-ng) in its own process group and a private temporary folder (command.c). */
int load_supervise_command(char **command, const cpu_set_t *cpus, int first_cpu, const char *dir,
                           const sigset_t *original_mask, const sigset_t *waiting_mask);

#endif
