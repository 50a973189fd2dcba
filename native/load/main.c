// rtlat-load: the supervisor of one load generator (see load.h).
//
//   rtlat-load --parent-pid PID --kind syscalls|ipc|timers|io|memory --cpu N [--peer-cpu N] [--dir DIR]
//   rtlat-load --parent-pid PID --cpu N [--cpu N ...] [--dir DIR] -- COMMAND [ARGS...]
//
// stdout carries two lines for rtlat: "ready" once the load runs, and at the end
// {"operations":N,"elapsedNs":N} ("operations":null for a COMMAND, which reports its own work).
// Anything that goes wrong is one line on stderr and a non-zero exit.
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "load.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t child_changed;

static void on_stop(int signal_number) {
  (void)signal_number;
  stop_requested = 1;
}

static void on_child(int signal_number) {
  (void)signal_number;
  child_changed = 1;
}

int load_fail(const char *what) {
  fprintf(stderr, "rtlat-load: %s: %s\n", what, strerror(errno));
  return 1;
}

uint64_t load_now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void load_sleep_ms(int ms) {
  struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

int load_pin(pid_t pid, const cpu_set_t *cpus, int cpu_for_message) {
  if (sched_setaffinity(pid, sizeof(*cpus), cpus) == 0) return 0;
  char what[64];
  snprintf(what, sizeof(what), "cannot run on CPU %d", cpu_for_message);
  return load_fail(what);
}

void load_child_signals(const sigset_t *original_mask) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
}

int load_die_with_parent(pid_t expected_parent, int signal_number) {
  if (prctl(PR_SET_PDEATHSIG, signal_number) != 0) return load_fail("prctl(PR_SET_PDEATHSIG)");
  // The parent may have died before prctl(): then we were already re-parented and no signal comes.
  return getppid() == expected_parent ? 0 : -1;
}

void load_report(const char *operations_json, uint64_t elapsed_ns) {
  // rtlat may be gone (this is also the parent-death path): a failed write is expected then.
  char line[96];
  int length = snprintf(line, sizeof(line), "{\"operations\":%s,\"elapsedNs\":%" PRIu64 "}\n", operations_json, elapsed_ns);
  if (write(STDOUT_FILENO, line, (size_t)length) < 0) return;
}

void load_announce_ready(void) {
  if (write(STDOUT_FILENO, "ready\n", 6) < 0) return;
}

int load_wait_for_stop(const sigset_t *waiting_mask, int (*child_ended)(void *context), void *context) {
  while (!stop_requested) {
    sigsuspend(waiting_mask);
    if (child_changed) {
      child_changed = 0;
      if (child_ended(context)) return -1;
    }
  }
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: rtlat-load --parent-pid PID --kind syscalls|ipc|timers|io|memory --cpu N [--peer-cpu N] [--dir DIR]\n"
          "       rtlat-load --parent-pid PID --cpu N [--cpu N ...] [--dir DIR] -- COMMAND [ARGS...]\n");
  return 2;
}

static int parse_int(const char *text, int min, int *out) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < min || value > 1 << 30) return -1;
  *out = (int)value;
  return 0;
}

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"parent-pid", required_argument, NULL, 'P'}, {"kind", required_argument, NULL, 'k'},
      {"cpu", required_argument, NULL, 'c'},        {"peer-cpu", required_argument, NULL, 'p'},
      {"dir", required_argument, NULL, 'd'},        {NULL, 0, NULL, 0},
  };
  int parent_pid = 0;
  int peer_cpu = -1;
  int first_cpu = -1;
  const char *kind = NULL;
  const char *dir = "/var/tmp";
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int option;
  while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int cpu;
    switch (option) {
      case 'P':
        if (parse_int(optarg, 1, &parent_pid) != 0) return usage();
        break;
      case 'k':
        kind = optarg;
        break;
      case 'c':
        if (parse_int(optarg, 0, &cpu) != 0 || cpu >= CPU_SETSIZE) return usage();
        if (first_cpu < 0) first_cpu = cpu;
        CPU_SET(cpu, &cpus);
        break;
      case 'p':
        if (parse_int(optarg, 0, &peer_cpu) != 0 || peer_cpu >= CPU_SETSIZE) return usage();
        break;
      case 'd':
        dir = optarg;
        break;
      default:
        return usage();
    }
  }
  char **command = optind < argc ? &argv[optind] : NULL;
  if (!parent_pid || first_cpu < 0 || (kind == NULL) == (command == NULL) || (kind && CPU_COUNT(&cpus) != 1)) {
    return usage();
  }

  // Stop requests and child exits are only taken inside sigsuspend(), never mid-set-up.
  sigset_t handled, original_mask;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &original_mask);
  struct sigaction stop_action = {0}, child_action = {0};
  stop_action.sa_handler = on_stop;
  child_action.sa_handler = on_child;
  sigaction(SIGTERM, &stop_action, NULL);
  sigaction(SIGCHLD, &child_action, NULL);
  // rtlat owns the terminal's Ctrl-C: it stops the load itself, after taking the counts.
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // rtlat's death is a stop request like any other: workers are killed and files removed.
  if (load_die_with_parent((pid_t)parent_pid, SIGTERM) != 0) return 1;

  sigset_t waiting_mask = original_mask;
  sigdelset(&waiting_mask, SIGTERM);
  sigdelset(&waiting_mask, SIGCHLD);
  if (command) return load_supervise_command(command, &cpus, first_cpu, dir, &original_mask, &waiting_mask);

  struct load load = {.kind = kind, .cpu = first_cpu, .peer_cpu = peer_cpu < 0 ? first_cpu : peer_cpu, .dir = dir, .ready_fd = -1};
  memset(load.ipc_pipes, -1, sizeof(load.ipc_pipes));
  load.counters = mmap(NULL, sizeof(struct load_counter) * LOAD_MAX_WORKERS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (load.counters == MAP_FAILED) return load_fail("mmap of the counters");
  if (load_plan(&load) != 0) return 2;
  return load_supervise_workers(&load, &original_mask, &waiting_mask);
}
