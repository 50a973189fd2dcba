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
  // are not allowed, in which case every thread is ended before anything is measured.
  // A session starts once; a second call throws std::logic_error.
  StartResult start();
  // Asks every thread to end after its current wake-up. Returns at once.
  void requestStop();
  bool finished() const;
  // Waits for the threads and releases the DMA-latency request, tracefs files and code lock.
  // Idempotent.
  void join();
  // Joins, then frees every thread's stack, ring and counters (and so unlocks them). Idempotent;
  // afterwards the session has no threads.
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
  SessionControl* control_ = nullptr;
  StartGate gate_;
  std::vector<std::unique_ptr<MeasuringThread>> threads_;
  int dmaLatencyFd_ = -1;
  bool holdsCodeLock_ = false;
  bool started_ = false;
  bool joined_ = false;
};

}  // namespace rtlat
