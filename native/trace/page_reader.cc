#include "page_reader.h"

#include <fcntl.h>
#include <sched.h>
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
  for (std::size_t i = 0; i < config_.paths.size(); ++i) cpus_.push_back(std::make_unique<Cpu>());
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
  auto* reader = static_cast<PageReader*>(self);
  pthread_setname_np(pthread_self(), "rtlat-trace");
  if (reader->config_.fifoPriority > 0) {
    // Above ordinary tasks, so that a loaded machine cannot keep the reader away until the kernel's
    // buffer overflows; below the measuring threads, whose priority the caller knows.
    sched_param param{};
    param.sched_priority = reader->config_.fifoPriority;
    if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) reader->priorityErrno_.store(errno, std::memory_order_release);
  }
  reader->run();
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
  for (auto& cpu : cpus_) drainCpu(*cpu, startNs);
  drainedUpToNs_.store(startNs, std::memory_order_release);
}

void PageReader::drainCpu(Cpu& cpu, int64_t nowNs) {
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
    while (!cpu.pages.empty() && cpu.pages.front().readAtNs < nowNs - config_.keepNs) {
      cpu.spare.push_back(std::move(cpu.pages.front().data));
      cpu.pages.pop_front();
      cpu.dropped = true;
    }
    if (cpu.pages.size() >= config_.maxPagesPerCpu) {
      cpu.spare.push_back(std::move(cpu.pages.front().data));
      cpu.pages.pop_front();
      cpu.dropped = true;
      cpu.stats.pagesEvicted++;
    }
    Page page;
    if (cpu.spare.empty()) {
      page.data.reset(new uint8_t[config_.pageBytes]);
    } else {
      page.data = std::move(cpu.spare.back());
      cpu.spare.pop_back();
    }
    std::memcpy(page.data.get(), readBuffer_.get(), static_cast<std::size_t>(length));
    page.timestampNs = pageTimestamp(readBuffer_.get(), static_cast<std::size_t>(length));
    page.readAtNs = nowNs;
    page.length = static_cast<uint32_t>(length);
    cpu.pages.push_back(std::move(page));
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
  copy.startLost = cpu.dropped && (cpu.pages.empty() || fromNs < cpu.pages.front().timestampNs);
  for (std::size_t k = 0; k < cpu.pages.size() && copy.pages < maxPages; ++k) {
    const Page& page = cpu.pages[k];
    if (page.timestampNs > toNs) break;
    // A page holds the events from its own timestamp up to the next page's.
    if (k + 1 < cpu.pages.size() && cpu.pages[k + 1].timestampNs <= fromNs) continue;
    std::memcpy(out + copy.pages * config_.pageBytes, page.data.get(), page.length);
    lengths[copy.pages] = page.length;
    copy.pages++;
  }
  return copy;
}

PageReaderStats PageReader::stats(std::size_t index) {
  if (index >= cpus_.size()) return PageReaderStats{};
  std::lock_guard<std::mutex> lock(cpus_[index]->mutex);
  PageReaderStats stats = cpus_[index]->stats;
  stats.pagesKept = cpus_[index]->pages.size();
  return stats;
}

}  // namespace rtlat
