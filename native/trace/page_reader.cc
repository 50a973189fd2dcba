#include "page_reader.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace rtlat {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;

int64_t monotonicNowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * kNsPerSecond + now.tv_nsec;
}

int64_t pageTimestamp(const uint8_t* page, std::size_t length) {
  if (length < sizeof(uint64_t)) return 0;
  uint64_t timestamp;
  std::memcpy(&timestamp, page, sizeof(timestamp));
  return static_cast<int64_t>(timestamp);
}

}  // namespace

PageReader::PageReader(PageReaderConfig config) : config_(std::move(config)) {
  readBuffer_ = std::make_unique<uint8_t[]>(config_.pageBytes);
  for (std::size_t i = 0; i < config_.paths.size(); ++i) {
    auto cpu = std::make_unique<Cpu>();
    // Left uninitialised: the ring's memory is touched only as pages arrive.
    cpu->pages.reset(new uint8_t[config_.pageBytes * config_.pagesPerCpu]);
    cpu->timestamps = std::make_unique<int64_t[]>(config_.pagesPerCpu);
    cpu->lengths = std::make_unique<uint32_t[]>(config_.pagesPerCpu);
    cpus_.push_back(std::move(cpu));
  }
}

PageReader::~PageReader() { stop(); }

int PageReader::start() {
  if (running_) return 0;
  for (std::size_t i = 0; i < cpus_.size(); ++i) {
    const int fd = open(config_.paths[i].c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      for (auto& cpu : cpus_) {
        if (cpu->fd >= 0) close(cpu->fd);
        cpu->fd = -1;
      }
      return error;
    }
    cpus_[i]->fd = fd;
  }
  stopRequested_.store(false, std::memory_order_relaxed);
  const int error = pthread_create(&thread_, nullptr, &PageReader::entry, this);
  if (error != 0) {
    for (auto& cpu : cpus_) {
      close(cpu->fd);
      cpu->fd = -1;
    }
    return error;
  }
  running_ = true;
  return 0;
}

void PageReader::stop() {
  if (!running_) return;
  stopRequested_.store(true, std::memory_order_release);
  pthread_join(thread_, nullptr);
  running_ = false;
  for (auto& cpu : cpus_) {
    if (cpu->fd >= 0) close(cpu->fd);
    cpu->fd = -1;
  }
}

void* PageReader::entry(void* self) {
  pthread_setname_np(pthread_self(), "rtlat-trace");
  static_cast<PageReader*>(self)->run();
  return nullptr;
}

void PageReader::run() {
  const timespec interval{static_cast<time_t>(config_.pollIntervalNs / kNsPerSecond),
                          static_cast<long>(config_.pollIntervalNs % kNsPerSecond)};
  // A sleep between drains rather than poll(): trace_pipe_raw wakes a poller only when the buffer is
  // buffer_percent full, far too late at low event rates, and at once (so constantly) at 0.
  while (!stopRequested_.load(std::memory_order_acquire)) {
    drainAll();
    clock_nanosleep(CLOCK_MONOTONIC, 0, &interval, nullptr);
  }
  drainAll();
}

void PageReader::drainAll() {
  const int64_t startNs = monotonicNowNs();
  for (auto& cpu : cpus_) drainCpu(*cpu);
  drainedUpToNs_.store(startNs, std::memory_order_release);
}

void PageReader::drainCpu(Cpu& cpu) {
  for (;;) {
    const ssize_t length = read(cpu.fd, readBuffer_.get(), config_.pageBytes);
    if (length <= 0) {
      const int error = length < 0 ? errno : 0;
      if (error != 0 && error != EAGAIN && error != EINTR) {
        std::lock_guard<std::mutex> lock(cpu.mutex);
        if (cpu.stats.readErrno == 0) cpu.stats.readErrno = error;
      }
      return;
    }
    std::lock_guard<std::mutex> lock(cpu.mutex);
    const std::size_t slot = cpu.next;
    std::memcpy(cpu.pages.get() + slot * config_.pageBytes, readBuffer_.get(), static_cast<std::size_t>(length));
    cpu.timestamps[slot] = pageTimestamp(readBuffer_.get(), static_cast<std::size_t>(length));
    cpu.lengths[slot] = static_cast<uint32_t>(length);
    cpu.next = (slot + 1) % config_.pagesPerCpu;
    if (cpu.count == config_.pagesPerCpu) {
      cpu.stats.pagesEvicted++;
    } else {
      cpu.count++;
    }
    cpu.stats.pagesRead++;
    cpu.stats.bytesRead += static_cast<uint64_t>(length);
  }
}

RangeCopy PageReader::copyRange(std::size_t index, int64_t fromNs, int64_t toNs, uint8_t* out,
                                uint32_t* lengths, std::size_t maxPages) {
  RangeCopy copy;
  if (index >= cpus_.size()) return copy;
  Cpu& cpu = *cpus_[index];
  std::lock_guard<std::mutex> lock(cpu.mutex);
  const std::size_t capacity = config_.pagesPerCpu;
  const std::size_t oldest = (cpu.next + capacity - cpu.count) % capacity;
  if (cpu.count > 0 && cpu.stats.pagesEvicted > 0 && fromNs < cpu.timestamps[oldest]) copy.startEvicted = true;
  for (std::size_t k = 0; k < cpu.count && copy.pages < maxPages; ++k) {
    const std::size_t slot = (oldest + k) % capacity;
    const int64_t startNs = cpu.timestamps[slot];
    if (startNs > toNs) break;
    // A page holds the events from its own timestamp up to the next page's.
    const bool last = k + 1 == cpu.count;
    if (!last && cpu.timestamps[(slot + 1) % capacity] <= fromNs) continue;
    std::memcpy(out + copy.pages * config_.pageBytes, cpu.pages.get() + slot * config_.pageBytes, cpu.lengths[slot]);
    lengths[copy.pages] = cpu.lengths[slot];
    copy.pages++;
  }
  return copy;
}

PageReaderStats PageReader::stats(std::size_t index) {
  if (index >= cpus_.size()) return PageReaderStats{};
  std::lock_guard<std::mutex> lock(cpus_[index]->mutex);
  return cpus_[index]->stats;
}

}  // namespace rtlat
