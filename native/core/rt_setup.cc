#include "rt_setup.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtlat {
namespace {

// glibc 2.36 has no sched_setattr() wrapper; this is the kernel's struct sched_attr (size 48).
struct KernelSchedAttr {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime;
  uint64_t deadline;
  uint64_t period;
};

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

int setDeadline(const ThreadConfig& config) {
  KernelSchedAttr attr{};
  attr.size = sizeof(attr);
  attr.policy = SCHED_DEADLINE;
  attr.runtime = static_cast<uint64_t>(config.runtimeNs);
  attr.deadline = static_cast<uint64_t>(config.deadlineNs > 0 ? config.deadlineNs : config.periodNs);
  attr.period = static_cast<uint64_t>(config.periodNs);
  return syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : errno;
}

int nativePolicy(Policy policy) {
  switch (policy) {
    case Policy::Fifo: return SCHED_FIFO;
    case Policy::RoundRobin: return SCHED_RR;
    case Policy::Other: return SCHED_OTHER;
    case Policy::Deadline: return SCHED_DEADLINE;
  }
  return SCHED_OTHER;
}

}  // namespace

pid_t currentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void applyToCurrentThread(const ThreadConfig& config, SetupErrors& errors) {
  // SCHED_DEADLINE admission requires the task to span its whole root domain, so a deadline thread
  // is never pinned; the TS layer documents that and reports the CPUs it actually ran on.
  if (config.cpu >= 0 && config.policy != Policy::Deadline) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config.cpu, &set);
    errors.affinity = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  if (config.policy == Policy::Deadline) {
    errors.policy = setDeadline(config);
  } else {
    sched_param param{};
    param.sched_priority = config.policy == Policy::Other ? 0 : config.priority;
    errors.policy = pthread_setschedparam(pthread_self(), nativePolicy(config.policy), &param);
  }
  if (config.policy == Policy::Other) {
    // A normal thread's timers are otherwise deferred by up to 50us of slack: ask for the minimum.
    errors.timerSlack = prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) == 0 ? 0 : errno;
  }
}

int pinThread(pid_t tid, const int* cpus, size_t count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (size_t i = 0; i < count; i++) CPU_SET(cpus[i], &set);
  return sched_setaffinity(tid, sizeof(set), &set) == 0 ? 0 : errno;
}

AppliedScheduling readBack(pid_t tid) {
  AppliedScheduling applied;
  KernelSchedAttr attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof(attr), 0) == 0) {
    applied.policy = static_cast<int>(attr.policy);
    applied.priority = static_cast<int>(attr.priority);
    applied.niceValue = attr.nice;
    applied.runtimeNs = static_cast<int64_t>(attr.runtime);
    applied.deadlineNs = static_cast<int64_t>(attr.deadline);
    applied.periodNs = static_cast<int64_t>(attr.period);
  }
  CPU_ZERO(&applied.affinity);
  sched_getaffinity(tid, sizeof(applied.affinity), &applied.affinity);
  if (tid == currentTid()) {
    const int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    applied.timerSlackNs = slack < 0 ? 0 : static_cast<uint64_t>(slack);
  }
  return applied;
}

}  // namespace rtlat
