// A measuring session: its threads, the shared stop flag, the DMA-latency request and the code lock.
// This is the whole engine seen from outside; it knows nothing of N-API.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "code_lock.h"
#include "config.h"
#include "locked_region.h"
#include "measuring_thread.h"

namespace rtlat {

struct StartResult {
  bool started = false;
  // A step was refused (privileges) and the caller did not allow a degraded run.
  bool refused = false;
  int launchErrno = 0;  // pthread_create's error, if a thread could not be created at all
  CodeLockReport codeLock;
  bool dmaLatencyHeld = false;
  int dmaLatencyErrno = 0;
  bool tracingReachable = false;  // trace_marker and tracing_on were opened for --breaktrace
  int64_t epochNs = 0;
  // Each thread's set-up, also of a refused start (whose threads are gone by then).
  std::vector<SetupReport> threads;
};

struct BreakInfo {
  int thread = -1;  // -1: no break happened
  int64_t latencyNs = 0;
};

class Session {
 public:
  explicit Session(SessionConfig config);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Creates and sets up every thread; starts measuring unless a step was refused and degraded runs
  // are not allowed, in which case the session is closed (threads ended, memory unlocked and freed)
  // before it returns. A session starts once, and not after close(): else it throws std::logic_error.
  StartResult start();
  // Asks every thread to end now, waking it from its sleep. Returns at once; calling it again wakes
  // again any thread that has not ended yet.
  void requestStop();
  bool finished() const;
  // Waits for the threads (waking them until they end) and releases the DMA-latency request,
  // tracefs files and code lock. Idempotent.
  void join();
  // Stops and joins, then frees every thread's stack, ring and counters and the session's control
  // block (and so unlocks them). Idempotent; afterwards the session has no threads.
  void close();

  std::size_t threadCount() const { return threads_.size(); }
  MeasuringThread& thread(std::size_t index) { return *threads_[index]; }
  BreakInfo breakInfo() const;
  const SessionConfig& config() const { return config_; }

 private:
  void openTracing(StartResult& result);
  void holdDmaLatency(StartResult& result);
  bool anyRefusal(const StartResult& result) const;
  void release();

  const SessionConfig config_;
  LockedRegion controlMemory_;
  SessionControl* control_ = nullptr;  // null once closed
  BreakInfo closedBreak_;  // breakInfo() after close()
  StartGate gate_;
  std::vector<std::unique_ptr<MeasuringThread>> threads_;
  int dmaLatencyFd_ = -1;
  bool holdsCodeLock_ = false;
  bool started_ = false;
  bool joined_ = false;
};

}  // namespace rtlat
