// The supervisor of a native generator: forks its workers, waits until each is set up, and on stop
// kills them and adds up their counters.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "load.h"

void load_worker_ready(struct load *load) {
  // A worker that cannot tell the supervisor is as good as failed: the supervisor sees the pipe close.
  if (write(load->ready_fd, "r", 1) != 1) _exit(1);
  close(load->ready_fd);
  load->ready_fd = -1;
}

static void kill_workers(struct load *load) {
  for (int i = 0; i < load->worker_count; i++) {
    if (load->workers[i].pid > 0) kill(load->workers[i].pid, SIGKILL);
  }
  for (int i = 0; i < load->worker_count; i++) {
    if (load->workers[i].pid > 0) waitpid(load->workers[i].pid, NULL, 0);
    load->workers[i].pid = 0;
  }
}

static int worker_ended(void *context) {
  struct load *load = context;
  int ended = 0;
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < load->worker_count; i++) {
      if (load->workers[i].pid != pid) continue;
      load->workers[i].pid = 0;
      ended = 1;
      if (WIFSIGNALED(status)) {
        fprintf(stderr, "rtlat-load: a %s worker on CPU %d was killed by signal %d\n", load->kind, load->workers[i].cpu, WTERMSIG(status));
      } else {
        fprintf(stderr, "rtlat-load: a %s worker on CPU %d exited with status %d\n", load->kind, load->workers[i].cpu, WEXITSTATUS(status));
      }
    }
  }
  return ended;
}

static void close_ipc_pipes(struct load *load) {
  for (int i = 0; i < LOAD_IPC_PAIRS; i++) {
    for (int end = 0; end < 2; end++) {
      if (load->ipc_pipes[i][end] >= 0) close(load->ipc_pipes[i][end]);
    }
  }
}

int load_supervise_workers(struct load *load, const sigset_t *original_mask, const sigset_t *waiting_mask) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return load_fail("pipe");
  pid_t supervisor = getpid();
  for (int i = 0; i < load->worker_count; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      load_fail("fork");
      kill_workers(load);
      return 1;
    }
    if (pid == 0) {
      load_child_signals(original_mask);
      close(ready[0]);
      load->ready_fd = ready[1];
      if (load_die_with_parent(supervisor, SIGKILL) != 0) _exit(1);
      cpu_set_t cpu;
      CPU_ZERO(&cpu);
      CPU_SET(load->workers[i].cpu, &cpu);
      if (load_pin(0, &cpu, load->workers[i].cpu) != 0) _exit(1);
      _exit(load->workers[i].run(load, i) == 0 ? 0 : 1);
    }
    load->workers[i].pid = pid;
  }
  close(ready[1]);
  close_ipc_pipes(load);

  // Each worker writes one byte when set up; a worker that failed closes its end without one.
  int readied = 0;
  char byte;
  while (readied < load->worker_count) {
    ssize_t got = read(ready[0], &byte, 1);
    if (got == 1) {
      readied++;
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  close(ready[0]);
  if (readied < load->worker_count) {
    kill_workers(load);
    return 1;
  }

  uint64_t started_ns = load_now_ns();
  load_announce_ready();
  if (load_wait_for_stop(waiting_mask, worker_ended, load) != 0) {
    kill_workers(load);
    return 1;
  }
  uint64_t elapsed_ns = load_now_ns() - started_ns;
  kill_workers(load);
  uint64_t operations = 0;
  for (int i = 0; i < load->worker_count; i++) operations += __atomic_load_n(&load->counters[i].operations, __ATOMIC_RELAXED);
  char number[24];
  snprintf(number, sizeof(number), "%" PRIu64, operations);
  load_report(number, elapsed_ns);
  return 0;
}
