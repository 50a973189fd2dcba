// One measuring thread: its locked stack, ring and counters, its set-up and its periodic loop.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "config.h"
#include "locked_region.h"
#include "rt_setup.h"
#include "sample_ring.h"

namespace rtlat {

// Exact running figures, written only by the measuring thread, read at any time by the drain.
// They stay exact when the ring overflows, so summaries never depend on the drain keeping up.
struct ThreadStats {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> overruns{0};
  std::atomic<uint64_t> dropped{0};
  // Block maxima lost to a full block ring (drained with the samples, so in practice none).
  std::atomic<uint64_t> blocksLost{0};
  std::atomic<int64_t> minNs{INT64_MAX};
  std::atomic<int64_t> maxNs{INT64_MIN};
  std::atomic<int64_t> sumNs{0};
  // Each latency truncated to whole microseconds, then summed: cyclictest's Avg is sumUs / count.
  std::atomic<int64_t> sumUs{0};
  std::atomic<int64_t> lastNs{0};
  // Page faults the thread took between its first and last wake-up (getrusage(RUSAGE_THREAD)).
  std::atomic<uint64_t> pageFaults{0};
  std::atomic<bool> finished{false};
};

// State every thread of a session shares while measuring.
struct SessionControl {
  std::atomic<bool> stopRequested{false};
  std::atomic<int> breakThread{-1};
  std::atomic<int64_t> breakLatencyNs{0};
  // Opened by the session before the threads start, so a break costs two write()s and nothing else.
  int traceMarkerFd = -1;
  int tracingOnFd = -1;
};

// The hand-shake between the session and its threads during set-up (never used while measuring).
struct StartGate {
  enum class Decision { Pending, Go, Abort };
  std::mutex mutex;
  std::condition_variable changed;
  int ready = 0;
  Decision decision = Decision::Pending;
  int64_t epochNs = 0;      // the session's time zero on its clock
  int64_t firstWakeNs = 0;  // 0: each thread starts one period after it is released
};

struct SetupReport {
  pid_t tid = 0;
  SetupErrors errors;
  AppliedScheduling applied;
  int memoryLockErrno = 0;  // a refused mlock() of the stack or the ring
  bool memoryLocked = false;
};

class MeasuringThread {
 public:
  MeasuringThread(int index, const ThreadConfig& config, const SessionConfig& session,
                  SessionControl& control, StartGate& gate);
  ~MeasuringThread();
  MeasuringThread(const MeasuringThread&) = delete;
  MeasuringThread& operator=(const MeasuringThread&) = delete;

  // Creates the pthread with every signal blocked; it sets itself up, reports to the gate and waits
  // for the decision. Returns pthread_create's error, 0 on success.
  int launch();
  // Interrupts the thread's sleep (wakeSignal()), so that it sees a requested stop now rather than
  // at its next wake-up. Harmless at any other moment.
  void wake();
  // True between a successful launch() and join().
  bool joinable() const { return joinable_; }
  void join();

  const SetupReport& setupReport() const { return report_; }
  const ThreadStats& stats() const { return *stats_; }
  SampleRing& ring() { return *ring_; }
  BlockRing& blocks() { return *blocks_; }
  const ThreadConfig& config() const { return config_; }

 private:
  static void* entry(void* self);
  void setUp();
  void measure(int64_t epochNs, int64_t firstWakeNs);

  const int index_;
  const ThreadConfig config_;
  const SessionConfig& session_;
  SessionControl& control_;
  StartGate& gate_;
  LockedRegion stack_;
  LockedRegion data_;  // ThreadStats, the two rings and their slots
  ThreadStats* stats_ = nullptr;
  SampleRing* ring_ = nullptr;
  BlockRing* blocks_ = nullptr;
  SetupReport report_;
  pthread_t thread_{};
  bool joinable_ = false;
};

int64_t clockNowNs(clockid_t clock);

}  // namespace rtlat
