#include "measuring_thread.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace rtlat {
namespace {

// Large enough for glibc's static TLS block, which it places at the top of a caller-given stack.
constexpr std::size_t kStackBytes = 512 * 1024;
constexpr std::size_t kGuardBytes = 64 * 1024;
constexpr int64_t kNsPerSecond = 1000000000;

std::size_t alignUp(std::size_t value, std::size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

constexpr std::size_t ringOffset() { return (sizeof(ThreadStats) + 63) / 64 * 64; }
std::size_t slotsOffset() { return alignUp(ringOffset() + sizeof(SampleRing), 64); }

timespec toTimespec(int64_t ns) {
  return timespec{static_cast<time_t>(ns / kNsPerSecond), static_cast<long>(ns % kNsPerSecond)};
}

uint64_t threadPageFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<uint64_t>(usage.ru_minflt + usage.ru_majflt);
}

// Formats into a caller's buffer without allocating: the break path runs on the measuring thread.
std::size_t appendDecimal(char* out, int64_t value) {
  char digits[24];
  std::size_t count = 0;
  const bool negative = value < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  std::size_t written = 0;
  if (negative) out[written++] = '-';
  while (count > 0) out[written++] = digits[--count];
  return written;
}

}  // namespace

int64_t clockNowNs(clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  return static_cast<int64_t>(now.tv_sec) * kNsPerSecond + now.tv_nsec;
}

MeasuringThread::MeasuringThread(int index, const ThreadConfig& config, const SessionConfig& session,
                                 SessionControl& control, StartGate& gate)
    : index_(index),
      config_(config),
      session_(session),
      control_(control),
      gate_(gate),
      stack_(kStackBytes, session.lockMemory, kGuardBytes),
      data_(slotsOffset() + config.ringCapacity * sizeof(Sample), session.lockMemory) {
  char* base = static_cast<char*>(data_.data());
  stats_ = new (base) ThreadStats();
  ring_ = new (base + ringOffset()) SampleRing(reinterpret_cast<Sample*>(base + slotsOffset()),
                                               config.ringCapacity);
  report_.memoryLocked = stack_.locked() && data_.locked();
  report_.memoryLockErrno = stack_.lockErrno() != 0 ? stack_.lockErrno() : data_.lockErrno();
}

MeasuringThread::~MeasuringThread() {
  join();
  ring_->~SampleRing();
  stats_->~ThreadStats();
}

int MeasuringThread::launch() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack_.data(), stack_.size());
  const int error = pthread_create(&thread_, &attr, &MeasuringThread::entry, this);
  pthread_attr_destroy(&attr);
  joinable_ = error == 0;
  return error;
}

void MeasuringThread::join() {
  if (!joinable_) return;
  pthread_join(thread_, nullptr);
  joinable_ = false;
}

void* MeasuringThread::entry(void* self) {
  auto* thread = static_cast<MeasuringThread*>(self);
  thread->setUp();
  int64_t epochNs = 0;
  int64_t firstWakeNs = 0;
  bool go = false;
  {
    std::unique_lock<std::mutex> lock(thread->gate_.mutex);
    thread->gate_.ready++;
    thread->gate_.changed.notify_all();
    thread->gate_.changed.wait(lock, [thread] {
      return thread->gate_.decision != StartGate::Decision::Pending;
    });
    go = thread->gate_.decision == StartGate::Decision::Go;
    epochNs = thread->gate_.epochNs;
    firstWakeNs = thread->gate_.firstWakeNs;
  }
  if (go) thread->measure(epochNs, firstWakeNs);
  thread->stats_->finished.store(true, std::memory_order_release);
  return nullptr;
}

void MeasuringThread::setUp() {
  report_.tid = currentTid();
  // "rtlat/0", "rtlat/1", ... in top, ps -L and ftrace's comm column (a breaktrace trace names it so).
  char name[16];
  std::snprintf(name, sizeof(name), "rtlat/%d", index_);
  pthread_setname_np(pthread_self(), name);
  applyToCurrentThread(config_, report_.errors);
  report_.applied = readBack(report_.tid);
  // Warm up everything the loop calls once, so no first-call page fault lands in the measurement.
  const timespec zero = toTimespec(clockNowNs(session_.clock));
  clock_nanosleep(session_.clock, TIMER_ABSTIME, &zero, nullptr);
  threadPageFaults();
}

void MeasuringThread::recordBreak(int64_t latencyNs) {
  int expected = -1;
  if (!control_.breakThread.compare_exchange_strong(expected, index_)) return;
  control_.breakLatencyNs.store(latencyNs, std::memory_order_relaxed);
  control_.stopRequested.store(true, std::memory_order_release);
  if (control_.traceMarkerFd >= 0) {
    char message[96];
    const char prefix[] = "rtlat breaktrace: thread ";
    std::size_t length = sizeof(prefix) - 1;
    std::memcpy(message, prefix, length);
    length += appendDecimal(message + length, index_);
    const char middle[] = " latency_ns ";
    std::memcpy(message + length, middle, sizeof(middle) - 1);
    length += sizeof(middle) - 1;
    length += appendDecimal(message + length, latencyNs);
    message[length++] = '\n';
    if (write(control_.traceMarkerFd, message, length) < 0) {
      // Nothing to do on the measuring thread; the session reports whether tracing was reachable.
    }
  }
  if (control_.tracingOnFd >= 0 && write(control_.tracingOnFd, "0", 1) < 0) {
    // As above.
  }
}

void MeasuringThread::measure(int64_t epochNs, int64_t firstWakeNs) {
  // Everything the loop reads lives on this (locked) stack or in the locked stats and ring.
  const clockid_t clock = session_.clock;
  const int64_t periodNs = config_.periodNs;
  const uint64_t loops = session_.loops;
  const int64_t breakThresholdNs = session_.breakThresholdNs;
  const uint64_t stallAfter = config_.testStallAfterCycles;
  const timespec stall = toTimespec(config_.testStallNs);
  ThreadStats& stats = *stats_;
  SampleRing& ring = *ring_;

  int64_t nextNs = firstWakeNs != 0 ? firstWakeNs + config_.startOffsetNs : clockNowNs(clock) + periodNs;
  const int64_t endNs = session_.durationNs > 0 ? nextNs - periodNs + session_.durationNs : INT64_MAX;
  uint64_t cycle = 0;
  uint64_t overruns = 0;
  uint64_t dropped = 0;
  int64_t minNs = INT64_MAX;
  int64_t maxNs = INT64_MIN;
  int64_t sumNs = 0;
  int64_t sumUs = 0;
  const uint64_t faultsBefore = threadPageFaults();

  while (!control_.stopRequested.load(std::memory_order_relaxed)) {
    const timespec due = toTimespec(nextNs);
    const int sleepError = clock_nanosleep(clock, TIMER_ABSTIME, &due, nullptr);
    if (sleepError == EINTR) continue;
    const int64_t nowNs = clockNowNs(clock);
    const int64_t latencyNs = nowNs - nextNs;

    if (!ring.push(Sample{latencyNs, nextNs - epochNs, cycle})) {
      stats.dropped.store(++dropped, std::memory_order_relaxed);
    }
    if (latencyNs < minNs) stats.minNs.store(minNs = latencyNs, std::memory_order_relaxed);
    if (latencyNs > maxNs) stats.maxNs.store(maxNs = latencyNs, std::memory_order_relaxed);
    stats.sumNs.store(sumNs += latencyNs, std::memory_order_relaxed);
    stats.sumUs.store(sumUs += latencyNs / 1000, std::memory_order_relaxed);
    stats.lastNs.store(latencyNs, std::memory_order_relaxed);
    stats.count.store(++cycle, std::memory_order_release);

    if (breakThresholdNs > 0 && latencyNs > breakThresholdNs) {
      recordBreak(latencyNs);
      break;
    }
    // Like cyclictest: wake-ups whose time has already passed are skipped and counted as overruns,
    // rather than taken late in a burst that would hide the stall behind many small latencies.
    nextNs += periodNs;
    while (nowNs > nextNs) {
      nextNs += periodNs;
      stats.overruns.store(++overruns, std::memory_order_relaxed);
    }
    if ((loops != 0 && cycle >= loops) || nextNs > endNs) break;
    if (stallAfter != 0 && cycle == stallAfter) clock_nanosleep(CLOCK_MONOTONIC, 0, &stall, nullptr);
  }
  stats.pageFaults.store(threadPageFaults() - faultsBefore, std::memory_order_relaxed);
}

}  // namespace rtlat
