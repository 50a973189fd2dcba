// The native generators: what each kind's workers do, and how many there are. Each worker counts
// its own operations; what one operation is, per kind, is said above its worker.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "load.h"

#define IPC_MESSAGE_BYTES 100
#define TIMER_COUNT 16
#define TIMER_SHORTEST_NS 20000L
#define TIMER_STEP_NS 5000L
#define NANOSLEEP_NS 10000L
#define IO_BLOCK_BYTES 4096
#define IO_BLOCKS 256
#define MEMORY_WALK_BYTES (64u << 20)
#define MEMORY_MAP_BYTES (4u << 20)
#define CACHE_LINE_BYTES 64

// syscalls: one operation is one system call. syscall() rather than the libc wrappers: glibc
// answers clock_gettime from the vDSO without entering the kernel at all.
static int run_syscalls(struct load *load, int index) {
  struct timespec now;
  load_worker_ready(load);
  for (;;) {
    syscall(SYS_getppid);
    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now) != 0) return load_fail("clock_gettime");
    sched_yield();
    load_count(load, index, 3);
  }
}

// ipc, hackbench-style: senders on one CPU write 100-byte messages to every receiver, receivers on
// the next CPU block reading them, so most messages wake a task on another CPU (an IPI). One
// operation is one message received.
static void keep_only_pipe_end(struct load *load, int pipe_index, int end) {
  for (int i = 0; i < LOAD_IPC_PAIRS; i++) {
    for (int e = 0; e < 2; e++) {
      if ((i != pipe_index || e != end) && load->ipc_pipes[i][e] >= 0) close(load->ipc_pipes[i][e]);
    }
  }
}

static int run_ipc_receiver(struct load *load, int index) {
  int fd = load->ipc_pipes[index][0];
  keep_only_pipe_end(load, index, 0);
  load_worker_ready(load);
  char buffer[40 * IPC_MESSAGE_BYTES];
  uint64_t partial_bytes = 0;
  for (;;) {
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return load_fail("read from an ipc pipe");
    partial_bytes += (uint64_t)got;
    load_count(load, index, partial_bytes / IPC_MESSAGE_BYTES);
    partial_bytes %= IPC_MESSAGE_BYTES;
  }
}

static int run_ipc_sender(struct load *load, int index) {
  (void)index;
  int fds[LOAD_IPC_PAIRS];
  for (int i = 0; i < LOAD_IPC_PAIRS; i++) fds[i] = load->ipc_pipes[i][1];
  for (int i = 0; i < LOAD_IPC_PAIRS; i++) close(load->ipc_pipes[i][0]);
  load_worker_ready(load);
  char message[IPC_MESSAGE_BYTES];
  memset(message, 'm', sizeof(message));
  for (;;) {
    for (int i = 0; i < LOAD_IPC_PAIRS; i++) {
      // Writes of at most PIPE_BUF bytes are atomic: receivers always see whole messages.
      if (write(fds[i], message, sizeof(message)) < 0 && errno != EINTR) return load_fail("write to an ipc pipe");
    }
  }
}

// timers: many short timers, so the CPU takes timer interrupts far more often than its tick. A
// timer slack of 1ns keeps the kernel from merging them (the default slack is 50us). One operation
// is one timer wake-up.
static int run_timerfds(struct load *load, int index) {
  if (prctl(PR_SET_TIMERSLACK, 1UL) != 0) return load_fail("prctl(PR_SET_TIMERSLACK)");
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return load_fail("epoll_create1");
  for (int i = 0; i < TIMER_COUNT; i++) {
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (timer < 0) return load_fail("timerfd_create");
    long interval_ns = TIMER_SHORTEST_NS + i * TIMER_STEP_NS;
    struct itimerspec spec = {{0, interval_ns}, {0, interval_ns}};
    if (timerfd_settime(timer, 0, &spec, NULL) != 0) return load_fail("timerfd_settime");
    struct epoll_event event = {.events = EPOLLIN, .data.fd = timer};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, timer, &event) != 0) return load_fail("epoll_ctl");
  }
  load_worker_ready(load);
  struct epoll_event events[TIMER_COUNT];
  for (;;) {
    int ready = epoll_wait(epoll, events, TIMER_COUNT, -1);
    for (int i = 0; i < ready; i++) {
      uint64_t expirations;
      if (read(events[i].data.fd, &expirations, sizeof(expirations)) == sizeof(expirations)) load_count(load, index, 1);
    }
  }
}

static int run_nanosleep(struct load *load, int index) {
  if (prctl(PR_SET_TIMERSLACK, 1UL) != 0) return load_fail("prctl(PR_SET_TIMERSLACK)");
  load_worker_ready(load);
  const struct timespec pause = {0, NANOSLEEP_NS};
  for (;;) {
    nanosleep(&pause, NULL);
    load_count(load, index, 1);
  }
}

// io: a 4 KiB write and an fsync, over and over, on a file without a name (O_TMPFILE) so that
// nothing is left behind even when the worker is killed. Each fsync waits for a block-device
// completion interrupt (unless the folder is a tmpfs). One operation is one write + fsync.
static int open_nameless_file(const char *dir) {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  // A filesystem without O_TMPFILE: a named file, unlinked at once.
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/.rtlat-load-io-XXXXXX", dir);
  fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0) unlink(path);
  return fd;
}

static int run_io(struct load *load, int index) {
  int fd = open_nameless_file(load->dir);
  if (fd < 0) {
    char what[PATH_MAX + 48];
    snprintf(what, sizeof(what), "cannot create a temporary file in %s", load->dir);
    return load_fail(what);
  }
  static char block[IO_BLOCK_BYTES] __attribute__((aligned(IO_BLOCK_BYTES)));
  load_worker_ready(load);
  for (uint64_t written = 0;; written++) {
    memset(block, (int)(written & 0xff), sizeof(block));
    off_t offset = (off_t)(written % IO_BLOCKS) * IO_BLOCK_BYTES;
    if (pwrite(fd, block, sizeof(block), offset) != (ssize_t)sizeof(block)) return load_fail("write to the temporary file");
    if (fsync(fd) != 0) return load_fail("fsync of the temporary file");
    load_count(load, index, 1);
  }
}

// memory: cache and TLB thrash. A 64 MiB buffer (beyond any last-level cache) is walked page by
// page in a shuffled order (no prefetcher helps, every page a TLB miss), every cache line written;
// then 4 MiB is mapped, faulted in page by page and unmapped. One operation is one page.
static int run_memory(struct load *load, int index) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = MEMORY_WALK_BYTES / page;
  volatile char *walk = mmap(NULL, MEMORY_WALK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint32_t *order = malloc(pages * sizeof(*order));
  if (walk == MAP_FAILED || order == NULL) return load_fail("allocating the memory buffer");
  uint64_t random = 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
  for (size_t i = 0; i < pages; i++) order[i] = (uint32_t)i;
  for (size_t i = pages - 1; i > 0; i--) {
    random ^= random << 13;
    random ^= random >> 7;
    random ^= random << 17;
    size_t j = (size_t)(random % (i + 1));
    uint32_t swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  load_worker_ready(load);
  for (;;) {
    for (size_t i = 0; i < pages; i++) {
      volatile char *start = walk + (size_t)order[i] * page;
      for (size_t line = 0; line < page; line += CACHE_LINE_BYTES) start[line]++;
      load_count(load, index, 1);
    }
    volatile char *fresh = mmap(NULL, MEMORY_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) return load_fail("mmap");
    for (size_t offset = 0; offset < MEMORY_MAP_BYTES; offset += page) fresh[offset] = 1;
    munmap((void *)fresh, MEMORY_MAP_BYTES);
    load_count(load, index, MEMORY_MAP_BYTES / page);
  }
}

static void add_worker(struct load *load, load_worker_fn run, int cpu) {
  load->workers[load->worker_count++] = (struct load_worker){.run = run, .cpu = cpu, .pid = 0};
}

int load_plan(struct load *load) {
  const char *kind = load->kind;
  if (strcmp(kind, "syscalls") == 0) {
    add_worker(load, run_syscalls, load->cpu);
  } else if (strcmp(kind, "ipc") == 0) {
    // Receivers first: worker i reads pipe i.
    for (int i = 0; i < LOAD_IPC_PAIRS; i++) {
      if (pipe2(load->ipc_pipes[i], O_CLOEXEC) != 0) return load_fail("pipe"), -1;
      add_worker(load, run_ipc_receiver, load->peer_cpu);
    }
    for (int i = 0; i < LOAD_IPC_PAIRS; i++) add_worker(load, run_ipc_sender, load->cpu);
  } else if (strcmp(kind, "timers") == 0) {
    add_worker(load, run_timerfds, load->cpu);
    add_worker(load, run_nanosleep, load->cpu);
  } else if (strcmp(kind, "io") == 0) {
    add_worker(load, run_io, load->cpu);
  } else if (strcmp(kind, "memory") == 0) {
    add_worker(load, run_memory, load->cpu);
  } else {
    fprintf(stderr, "rtlat-load: unknown kind '%s' (syscalls, ipc, timers, io or memory)\n", kind);
    return -1;
  }
  return 0;
}
