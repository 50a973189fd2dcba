// What a measuring session is asked to do. Values arrive validated from the TypeScript layer.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rtlat {

enum class Policy { Fifo, RoundRobin, Other, Deadline };

// When the threads' first wake-ups are: each its own (now + period), one common time soon, or the next
// full second (cyclictest's -A and --secaligned).
enum class Alignment { None, Together, FullSecond };

struct ThreadConfig {
  int cpu = -1;  // -1: leave the affinity alone
  Policy policy = Policy::Fifo;
  int priority = 99;
  int64_t periodNs = 1000000;
  // SCHED_DEADLINE reservation; ignored by the other policies.
  int64_t runtimeNs = 0;
  int64_t deadlineNs = 0;
  std::size_t ringCapacity = 1 << 16;  // samples; a power of two
  // Wake-ups per block of the block maxima (the loop keeps each block's largest latency); 0: none.
  uint64_t blockSize = 0;
  int64_t startOffsetNs = 0;  // with an alignment: the first wake-up this long after the common start
  // Test-only: after this many wake-ups, sleep stallNs once, to produce overruns on purpose.
  uint64_t testStallAfterCycles = 0;
  int64_t testStallNs = 0;
};

struct SessionConfig {
  std::vector<ThreadConfig> threads;
  clockid_t clock = CLOCK_MONOTONIC;
  uint64_t loops = 0;        // wake-ups per thread; 0: no limit
  bool loopsEndAll = false;  // the first thread to reach loops ends the session (cyclictest -l)
  int64_t durationNs = 0;    // 0: no limit
  Alignment alignment = Alignment::None;
  bool lockMemory = true;
  bool requestDmaLatency = true;
  bool allowDegraded = false;
  int64_t breakThresholdNs = 0;  // 0: off; otherwise stop everything at the first latency above it
  bool traceOnBreak = true;      // at the break, write a trace mark and stop ftrace (cyclictest --tracemark)
  // 0: the caller drains the rings (Session::thread(i).ring()); otherwise the session's histogram
  // thread drains them this often into one histogram per thread, taken by Session::takeHistogram().
  int64_t recordIntervalNs = 0;
};

}  // namespace rtlat
