// Real-time set-up of the calling thread, and reading back what the kernel actually applied.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "config.h"

namespace rtlat {

struct AppliedScheduling {
  int policy = -1;  // SCHED_* as the kernel reports it
  int priority = 0;
  int64_t runtimeNs = 0;
  int64_t deadlineNs = 0;
  int64_t periodNs = 0;
  int niceValue = 0;
  uint64_t timerSlackNs = 0;
  cpu_set_t affinity;
};

// errno of each step that was refused, 0 where it succeeded or was not needed.
struct SetupErrors {
  int affinity = 0;
  int policy = 0;
  int timerSlack = 0;
};

// Pins the calling thread and gives it the requested policy. Never throws; failures land in `errors`.
void applyToCurrentThread(const ThreadConfig& config, SetupErrors& errors);

// Pins another thread of this process (`tid`) to `cpus`: for the threads that do not measure (the JS
// thread, libuv's and V8's), as cyclictest's --mainaffinity. Returns 0 or the errno.
int pinThread(pid_t tid, const int* cpus, size_t count);

// What the kernel reports for `tid` now: policy, priority or reservation, affinity and timer slack.
AppliedScheduling readBack(pid_t tid);

pid_t currentTid();

}  // namespace rtlat
