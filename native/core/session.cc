#include "session.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace rtlat {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;
// An aligned start waits for the next full second at least this far away, so every thread is
// already asleep when it comes.
constexpr int64_t kAlignMarginNs = 20000000;
// How often join() wakes a thread again that has not ended yet: a wake signal that arrives just
// before the thread goes to sleep (after it looked at the stop flag) leaves it asleep.
constexpr long kWakeRetryNs = 1000000;

const char* const kTracingRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

int openForWriting(const std::string& path) { return open(path.c_str(), O_WRONLY | O_CLOEXEC); }

}  // namespace

Session::Session(SessionConfig config)
    : config_(std::move(config)), controlMemory_(sizeof(SessionControl), config_.lockMemory) {
  control_ = new (controlMemory_.data()) SessionControl();
}

Session::~Session() { close(); }

void Session::openTracing(StartResult& result) {
  for (const char* root : kTracingRoots) {
    const int marker = openForWriting(std::string(root) + "/trace_marker");
    if (marker < 0) continue;
    const int tracingOn = openForWriting(std::string(root) + "/tracing_on");
    if (tracingOn < 0) {
      ::close(marker);
      continue;
    }
    control_->traceMarkerFd = marker;
    control_->tracingOnFd = tracingOn;
    result.tracingReachable = true;
    return;
  }
}

void Session::holdDmaLatency(StartResult& result) {
  // The request stands only while the file stays open: the kernel drops it on close.
  const int fd = openForWriting("/dev/cpu_dma_latency");
  const int32_t zeroUs = 0;
  if (fd < 0) {
    result.dmaLatencyErrno = errno;
  } else if (write(fd, &zeroUs, sizeof(zeroUs)) != static_cast<ssize_t>(sizeof(zeroUs))) {
    result.dmaLatencyErrno = errno;
    ::close(fd);
  } else {
    dmaLatencyFd_ = fd;
    result.dmaLatencyHeld = true;
  }
}

bool Session::anyRefusal(const StartResult& result) const {
  if (result.codeLock.error != 0 || result.dmaLatencyErrno != 0) return true;
  for (const auto& thread : threads_) {
    const SetupReport& report = thread->setupReport();
    if (report.errors.policy != 0 || report.errors.affinity != 0 || report.errors.timerSlack != 0 ||
        report.memoryLockErrno != 0) {
      return true;
    }
  }
  return false;
}

StartResult Session::start() {
  if (started_ || control_ == nullptr) throw std::logic_error("a session starts once, and not after close()");
  started_ = true;
  StartResult result;
  try {
    if (config_.lockMemory) {
      result.codeLock = acquireCodeLock();
      holdsCodeLock_ = true;
    }
    if (config_.requestDmaLatency) holdDmaLatency(result);
    if (config_.breakThresholdNs > 0 && config_.traceOnBreak) openTracing(result);
    for (std::size_t i = 0; i < config_.threads.size(); ++i) {
      threads_.push_back(std::make_unique<MeasuringThread>(static_cast<int>(i), config_.threads[i], config_,
                                                           *control_, gate_));
    }
  } catch (...) {
    close();
    throw;
  }
  int launched = 0;
  for (auto& thread : threads_) {
    result.launchErrno = thread->launch();
    if (result.launchErrno != 0) break;
    launched++;
  }

  std::unique_lock<std::mutex> lock(gate_.mutex);
  gate_.changed.wait(lock, [&] { return gate_.ready == launched; });
  for (const auto& thread : threads_) result.threads.push_back(thread->setupReport());
  result.refused = anyRefusal(result) && !config_.allowDegraded;
  if (result.launchErrno != 0 || result.refused) {
    gate_.decision = StartGate::Decision::Abort;
    gate_.changed.notify_all();
    lock.unlock();
    // Nothing of a refused start stays behind: no thread, no locked memory, no open file.
    close();
    return result;
  }
  gate_.epochNs = clockNowNs(config_.clock);
  if (config_.alignment == Alignment::FullSecond) {
    gate_.firstWakeNs = (gate_.epochNs + kAlignMarginNs + kNsPerSecond - 1) / kNsPerSecond * kNsPerSecond;
  } else if (config_.alignment == Alignment::Together) {
    gate_.firstWakeNs = gate_.epochNs + kAlignMarginNs;
  }
  gate_.decision = StartGate::Decision::Go;
  gate_.changed.notify_all();
  result.epochNs = gate_.epochNs;
  result.started = true;
  return result;
}

void Session::requestStop() {
  if (control_ == nullptr) return;
  control_->stopRequested.store(true, std::memory_order_release);
  for (auto& thread : threads_) {
    if (!thread->stats().finished.load(std::memory_order_acquire)) thread->wake();
  }
}

bool Session::finished() const {
  for (const auto& thread : threads_) {
    if (!thread->stats().finished.load(std::memory_order_acquire)) return false;
  }
  return true;
}

void Session::join() {
  if (joined_) return;
  const bool stopping = control_->stopRequested.load(std::memory_order_acquire);
  for (auto& thread : threads_) {
    // A thread that ends on its own (loops, duration) is simply waited for.
    while (stopping && thread->joinable() && !thread->stats().finished.load(std::memory_order_acquire)) {
      thread->wake();
      const timespec retry{0, kWakeRetryNs};
      nanosleep(&retry, nullptr);
    }
    thread->join();
  }
  joined_ = true;
  release();
}

void Session::close() {
  if (control_ == nullptr) return;
  requestStop();
  join();
  threads_.clear();
  closedBreak_ = breakInfo();
  control_->~SessionControl();
  control_ = nullptr;
  controlMemory_ = LockedRegion();
}

void Session::release() {
  for (int* fd : {&dmaLatencyFd_, &control_->traceMarkerFd, &control_->tracingOnFd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (holdsCodeLock_) releaseCodeLock();
  holdsCodeLock_ = false;
}

BreakInfo Session::breakInfo() const {
  if (control_ == nullptr) return closedBreak_;
  BreakInfo info;
  info.thread = control_->breakThread.load(std::memory_order_acquire);
  info.latencyNs = control_->breakLatencyNs.load(std::memory_order_relaxed);
  return info;
}

}  // namespace rtlat
