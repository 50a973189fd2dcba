#include "measuring_thread.h"

#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "wake_signal.h"

namespace rtlat {
namespace {

// Large enough for glibc's static TLS block, which it places at the top of a caller-given stack.
constexpr std::size_t kStackBytes = 512 * 1024;
constexpr std::size_t kGuardBytes = 64 * 1024;
constexpr int64_t kNsPerSecond = 1000000000;
// Block maxima waiting for the drain: at one block per ~2 s (rtlat's default size), hours of them.
constexpr std::size_t kBlockRingCapacity = 4096;

std::size_t alignUp(std::size_t value, std::size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// The data region: ThreadStats | SampleRing | BlockRing | the block ring's slots | the sample slots.
constexpr std::size_t ringOffset() { return (sizeof(ThreadStats) + 63) / 64 * 64; }
std::size_t blockRingOffset() { return alignUp(ringOffset() + sizeof(SampleRing), 64); }
std::size_t blockSlotsOffset() { return alignUp(blockRingOffset() + sizeof(BlockRing), 64); }
std::size_t slotsOffset() { return alignUp(blockSlotsOffset() + kBlockRingCapacity * sizeof(BlockMaximum), 64); }

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

// A free function of locals only: the measuring thread reaches nothing through `this` (on the heap).
void recordBreak(SessionControl& control, int thread, int64_t latencyNs) {
  int expected = -1;
  if (!control.breakThread.compare_exchange_strong(expected, thread)) return;
  control.breakLatencyNs.store(latencyNs, std::memory_order_relaxed);
  control.stopRequested.store(true, std::memory_order_release);
  if (control.traceMarkerFd >= 0) {
    char message[96];
    const char prefix[] = "rtlat breaktrace: thread ";
    std::size_t length = sizeof(prefix) - 1;
    std::memcpy(message, prefix, length);
    length += appendDecimal(message + length, thread);
    const char middle[] = " latency_ns ";
    std::memcpy(message + length, middle, sizeof(middle) - 1);
    length += sizeof(middle) - 1;
    length += appendDecimal(message + length, latencyNs);
    message[length++] = '\n';
    if (write(control.traceMarkerFd, message, length) < 0) {
      // Nothing to do on the measuring thread; the session reports whether tracing was reachable.
    }
  }
  if (control.tracingOnFd >= 0 && write(control.tracingOnFd, "0", 1) < 0) {
    // As above.
  }
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
  blocks_ = new (base + blockRingOffset())
      BlockRing(reinterpret_cast<BlockMaximum*>(base + blockSlotsOffset()), kBlockRingCapacity);
  report_.memoryLocked = stack_.locked() && data_.locked();
  report_.memoryLockErrno = stack_.lockErrno() != 0 ? stack_.lockErrno() : data_.lockErrno();
}

MeasuringThread::~MeasuringThread() {
  join();
  blocks_->~BlockRing();
  ring_->~SampleRing();
  stats_->~ThreadStats();
}

int MeasuringThread::launch() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack_.data(), stack_.size());
  // A new thread inherits its creator's signal mask: with every signal blocked from its first
  // instruction, no process-directed signal ever runs a handler on a real-time thread (the kernel
  // hands it to a thread that does not block it). Only the wake signal is unblocked, in setUp().
  wakeSignal();  // installs its handler before any thread could receive it
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const int error = pthread_create(&thread_, &attr, &MeasuringThread::entry, this);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attr);
  joinable_ = error == 0;
  return error;
}

void MeasuringThread::wake() {
  const int signal = wakeSignal();
  if (joinable_ && signal != 0) pthread_kill(thread_, signal);
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
  if (const int signal = wakeSignal()) {
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, signal);
    pthread_sigmask(SIG_UNBLOCK, &wake, nullptr);
  }
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

void MeasuringThread::measure(int64_t epochNs, int64_t firstWakeNs) {
  // Everything the loop reads lives on this (locked) stack or in the locked stats, ring and session
  // control; nothing is read through `this`, which is on the malloc heap and not locked.
  const int index = index_;
  SessionControl& control = control_;
  const clockid_t clock = session_.clock;
  const int64_t periodNs = config_.periodNs;
  const uint64_t loops = session_.loops;
  const bool loopsEndAll = session_.loopsEndAll;
  const int64_t breakThresholdNs = session_.breakThresholdNs;
  const uint64_t stallAfter = config_.testStallAfterCycles;
  const timespec stall = toTimespec(config_.testStallNs);
  const uint64_t blockSize = config_.blockSize;
  ThreadStats& stats = *stats_;
  SampleRing& ring = *ring_;
  BlockRing& blocks = *blocks_;

  int64_t nextNs = firstWakeNs != 0 ? firstWakeNs + config_.startOffsetNs : clockNowNs(clock) + periodNs;
  const int64_t endNs = session_.durationNs > 0 ? nextNs - periodNs + session_.durationNs : INT64_MAX;
  uint64_t cycle = 0;
  uint64_t overruns = 0;
  uint64_t dropped = 0;
  int64_t minNs = INT64_MAX;
  int64_t maxNs = INT64_MIN;
  int64_t sumNs = 0;
  int64_t sumUs = 0;
  uint64_t block = 0;
  uint64_t inBlock = 0;
  uint64_t blocksLost = 0;
  int64_t blockMaxNs = INT64_MIN;
  const uint64_t faultsBefore = threadPageFaults();

  while (!control.stopRequested.load(std::memory_order_relaxed)) {
    const timespec due = toTimespec(nextNs);
    // EINTR: woken by wake() (a stop, seen at the top) or by a stray wake signal (sleep again).
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
    // Each block's maximum, exact whether or not the sample ring kept up: the order of the extremes
    // is what the extreme-value analysis tests, and the histograms have lost it.
    if (blockSize != 0) {
      if (latencyNs > blockMaxNs) blockMaxNs = latencyNs;
      if (++inBlock == blockSize) {
        if (!blocks.push(BlockMaximum{blockMaxNs, block})) stats.blocksLost.store(++blocksLost, std::memory_order_relaxed);
        ++block;
        inBlock = 0;
        blockMaxNs = INT64_MIN;
      }
    }

    // Wake-ups whose time has already passed are skipped, as cyclictest skips them, rather than taken
    // late in a burst that would hide the stall behind many small latencies. Unlike cyclictest, rtlat
    // counts them: ceil(latency / period) - 1 for this wake-up, one per period it overran (also for a
    // wake-up that breaks the run, so the corrected view's imputed wake-ups always match the count).
    nextNs += periodNs;
    while (nowNs > nextNs) {
      nextNs += periodNs;
      stats.overruns.store(++overruns, std::memory_order_relaxed);
    }
    if (breakThresholdNs > 0 && latencyNs > breakThresholdNs) {
      recordBreak(control, index, latencyNs);
      break;
    }
    if (loops != 0 && cycle >= loops) {
      // The others see it when they next wake (the session's owner wakes them sooner).
      if (loopsEndAll) control.stopRequested.store(true, std::memory_order_release);
      break;
    }
    if (nextNs > endNs) break;
    if (stallAfter != 0 && cycle == stallAfter) clock_nanosleep(CLOCK_MONOTONIC, 0, &stall, nullptr);
  }
  stats.pageFaults.store(threadPageFaults() - faultsBefore, std::memory_order_relaxed);
}

}  // namespace rtlat
