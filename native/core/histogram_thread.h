// The thread that records a session's samples natively (SessionConfig::recordIntervalNs): every
// interval it drains each measuring thread's ring into that thread's histogram, so the process's
// JS threads do no per-sample work at all; they take a histogram when they want one (a scrape, a
// snapshot), at a cost bounded by the histogram's size. It is an ordinary thread (SCHED_OTHER, the
// creator's affinity), never touches JS and never measures: the measuring threads stay as they are.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <vector>

#include "hdr_counts.h"
#include "sample_ring.h"

namespace rtlat {

class HistogramThread {
 public:
  // One histogram per ring, in the same order; the rings must outlive this object's thread (stop()).
  HistogramThread(std::vector<SampleRing*> rings, int64_t intervalNs);
  ~HistogramThread();
  HistogramThread(const HistogramThread&) = delete;
  HistogramThread& operator=(const HistogramThread&) = delete;

  // Creates the thread, every signal blocked; returns pthread_create's error, 0 on success.
  int launch();
  // Ends the thread, then records what is left in the rings: once the measuring threads have ended,
  // the histograms hold every sample. Idempotent.
  void stop();
  // Appends ring `index`'s samples recorded since the previous take, in HdrHistogram's V2 encoding,
  // and starts the next take's counts. Blocks the caller only while a drain of that ring records.
  void take(std::size_t index, std::vector<uint8_t>& out);

 private:
  struct Recorded {
    std::mutex mutex;
    HdrCounts counts;
  };

  static void* entry(void* self);
  void recordAvailable();

  const std::vector<SampleRing*> rings_;
  std::vector<std::unique_ptr<Recorded>> histograms_;
  std::vector<int64_t> chunk_;  // latencies between a ring and its histogram (only the recording side uses it)
  const std::chrono::nanoseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  pthread_t thread_{};
  bool joinable_ = false;
};

}  // namespace rtlat
