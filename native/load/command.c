// The supervisor of an outside load program (stress-ng): it runs the command in a process group of
// its own, in a private temporary folder, and on stop asks it to finish (SIGTERM: stress-ng then
// prints its metrics), kills whatever is left of the group, and removes the folder.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "load.h"

#define GRACEFUL_STOP_MS 5000
#define GROUP_GONE_MS 2000
#define POLL_MS 10

struct command_state {
  const char *name;
  /** The command's pid, which is also its process group's id. */
  pid_t group;
};

/** True once the command has exited. WNOWAIT keeps it a zombie: its pid (the group id) cannot be reused while we kill the group. */
static int has_exited(pid_t pid, siginfo_t *info) {
  memset(info, 0, sizeof(*info));
  return waitid(P_PID, (id_t)pid, info, WEXITED | WNOHANG | WNOWAIT) == 0 && info->si_pid == pid;
}

static int command_ended(void *context) {
  const struct command_state *state = context;
  siginfo_t info;
  if (!has_exited(state->group, &info)) return 0;
  fprintf(stderr, "rtlat-load: %s ended before it was stopped (%s %d)\n", state->name,
          info.si_code == CLD_EXITED ? "exit status" : "signal", info.si_status);
  return 1;
}

static void stop_group(pid_t group) {
  siginfo_t info;
  if (!has_exited(group, &info)) {
    kill(group, SIGTERM);
    for (int waited_ms = 0; waited_ms < GRACEFUL_STOP_MS && !has_exited(group, &info); waited_ms += POLL_MS) load_sleep_ms(POLL_MS);
  }
  // Whatever the command left running in its group, and the command itself if it did not finish.
  kill(-group, SIGKILL);
  waitpid(group, NULL, 0);
  // Killed members may still be finishing a file operation: wait until the group is gone.
  for (int waited_ms = 0; waited_ms < GROUP_GONE_MS && kill(-group, 0) == 0; waited_ms += POLL_MS) load_sleep_ms(POLL_MS);
}

static int remove_entry(const char *path, const struct stat *status, int type, struct FTW *walk) {
  (void)status;
  (void)type;
  (void)walk;
  remove(path);
  return 0;
}

int load_supervise_command(char **command, const cpu_set_t *cpus, int first_cpu, const char *dir,
                           const sigset_t *original_mask, const sigset_t *waiting_mask) {
  char folder[PATH_MAX];
  snprintf(folder, sizeof(folder), "%s/rtlat-load-XXXXXX", dir);
  if (mkdtemp(folder) == NULL) {
    char what[PATH_MAX + 48];
    snprintf(what, sizeof(what), "cannot create a temporary folder in %s", dir);
    return load_fail(what);
  }
  // Closed by a successful exec; a child that cannot exec writes one byte first.
  int exec_failed[2];
  if (pipe2(exec_failed, O_CLOEXEC) != 0) return load_fail("pipe");
  pid_t supervisor = getpid();
  pid_t pid = fork();
  if (pid < 0) return load_fail("fork");
  if (pid == 0) {
    load_child_signals(original_mask);
    close(exec_failed[0]);
    setpgid(0, 0);
    if (load_die_with_parent(supervisor, SIGKILL) != 0) _exit(1);
    if (load_pin(0, cpus, first_cpu) != 0 || chdir(folder) != 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      if (write(exec_failed[1], "x", 1) < 0) _exit(1);
      _exit(1);
    }
    execvp(command[0], command);
    char what[PATH_MAX];
    snprintf(what, sizeof(what), "cannot run %s", command[0]);
    load_fail(what);
    if (write(exec_failed[1], "x", 1) < 0) _exit(127);
    _exit(127);
  }
  // Both sides set the group, so it exists before either goes on.
  setpgid(pid, pid);
  close(exec_failed[1]);
  char byte;
  ssize_t got;
  while ((got = read(exec_failed[0], &byte, 1)) < 0 && errno == EINTR) {
  }
  close(exec_failed[0]);
  int stopped = 0;
  uint64_t elapsed_ns = 0;
  if (got == 0) {
    struct command_state state = {.name = command[0], .group = pid};
    uint64_t started_ns = load_now_ns();
    load_announce_ready();
    stopped = load_wait_for_stop(waiting_mask, command_ended, &state) == 0;
    elapsed_ns = load_now_ns() - started_ns;
  }
  stop_group(pid);
  nftw(folder, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (!stopped) return 1;
  load_report("null", elapsed_ns);
  return 0;
}
