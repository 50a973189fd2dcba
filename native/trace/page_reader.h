// Reads the kernel's per-CPU trace buffers (tracefs' per_cpu/cpuN/trace_pipe_raw) on a thread of its
// own while measuring, and keeps each CPU's pages of the last few seconds (at most so many), so that
// the JS layer can copy out the pages around a late wake-up once it knows the wake-up was late. It
// never parses an event: the pages go out as the kernel wrote them. Knows nothing of N-API.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rtlat {

struct PageReaderConfig {
  std::vector<std::string> paths;  // one trace_pipe_raw per CPU
  std::size_t pageBytes = 4096;       // the buffer's sub-buffer size (buffer_subbuf_size_kb)
  std::size_t maxPagesPerCpu = 1024;  // pages each CPU keeps at most
  int64_t keepNs = 4000000000;        // pages are kept this long after they were read
  int64_t pollIntervalNs = 10000000;
  int fifoPriority = 0;               // > 0: the thread runs at SCHED_FIFO with this priority
};

struct PageReaderStats {
  uint64_t pagesRead = 0;
  uint64_t bytesRead = 0;
  uint64_t pagesEvicted = 0;  // given up before they were kept their time: maxPagesPerCpu was reached
  uint64_t pagesKept = 0;     // kept right now
  int readErrno = 0;          // the first read() error other than EAGAIN, 0 if none
};

// Where a copied range stands: complete once the reader has drained past its end.
struct RangeCopy {
  std::size_t pages = 0;
  bool startLost = false;  // the range begins before the oldest page still kept
};

class PageReader {
 public:
  explicit PageReader(PageReaderConfig config);
  ~PageReader();
  PageReader(const PageReader&) = delete;
  PageReader& operator=(const PageReader&) = delete;

  // Opens every file (non-blocking) and starts the thread. Returns 0 or the errno of the first failure.
  // errno of SCHED_FIFO being refused (the thread then reads at its ordinary priority).
  int start();
  int priorityErrno() const { return priorityErrno_.load(std::memory_order_acquire); }
  // Drains once more, ends the thread and closes the files. Idempotent.
  void stop();

  std::size_t cpuCount() const { return cpus_.size(); }
  std::size_t pageBytes() const { return config_.pageBytes; }
  // CLOCK_MONOTONIC time at which the last complete drain began: every event before it has been read.
  int64_t drainedUpToNs() const { return drainedUpToNs_.load(std::memory_order_acquire); }
  // Copies, oldest first, the kept pages of CPU `index` that may hold events in [fromNs, toNs], at
  // most `maxPages` of them; each page's length is written to `lengths`.
  RangeCopy copyRange(std::size_t index, int64_t fromNs, int64_t toNs, uint8_t* out, uint32_t* lengths,
                      std::size_t maxPages);
  PageReaderStats stats(std::size_t index);

 private:
  struct Page {
    std::unique_ptr<uint8_t[]> data;
    int64_t timestampNs = 0;  // the page header's: when its first event was recorded
    int64_t readAtNs = 0;
    uint32_t length = 0;
  };

  struct Cpu {
    int fd = -1;
    std::mutex mutex;  // held while a page is stored and while pages are copied out
    std::deque<Page> pages;  // oldest first
    std::vector<std::unique_ptr<uint8_t[]>> spare;  // buffers of dropped pages, for the next ones
    bool dropped = false;  // a page has been dropped (its time was up, or it was evicted)
    PageReaderStats stats;
  };

  static void* entry(void* self);
  void run();
  void drainAll();
  void drainCpu(Cpu& cpu, int64_t nowNs);

  const PageReaderConfig config_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  std::unique_ptr<uint8_t[]> readBuffer_;
  std::atomic<bool> stopRequested_{false};
  std::atomic<int64_t> drainedUpToNs_{0};
  std::atomic<int> priorityErrno_{0};
  pthread_t thread_{};
  bool running_ = false;
};

}  // namespace rtlat
