// Lock-free single-producer / single-consumer rings: of latency samples, and of block maxima.
//
// The measuring thread is the only producer and the JS drain the only consumer. The producer never
// waits: when a ring is full the entry is counted as dropped, so nothing is lost silently.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rtlat {

struct Sample {
  int64_t latencyNs;
  // When the wake-up was due, in nanoseconds since the session's epoch (its start on the run's clock).
  int64_t dueNs;
  // The wake-up's index in the thread's sequence, counting from 0 (cyclictest's "cycle number").
  uint64_t cycle;
};

// The largest latency of one block of wake-ups (extreme-value statistics need them in order).
struct BlockMaximum {
  int64_t maxNs;
  // The block's index in the thread's sequence, counting from 0.
  uint64_t block;
};

template <typename Entry>
class SpscRing {
 public:
  // `storage` must hold `capacity` entries; capacity must be a power of two.
  SpscRing(Entry* storage, std::size_t capacity) : slots_(storage), mask_(capacity - 1) {}

  // Producer side. Returns false when the ring is full and the entry was not stored.
  bool push(const Entry& entry) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) > mask_) return false;
    slots_[head & mask_] = entry;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side. Copies up to `max` entries out and returns how many were copied.
  template <typename Sink>
  std::size_t drain(std::size_t max, Sink&& sink) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t available = head_.load(std::memory_order_acquire) - tail;
    const std::size_t count = available < max ? static_cast<std::size_t>(available) : max;
    for (std::size_t i = 0; i < count; ++i) sink(slots_[(tail + i) & mask_]);
    tail_.store(tail + count, std::memory_order_release);
    return count;
  }

  std::size_t capacity() const { return static_cast<std::size_t>(mask_) + 1; }

 private:
  Entry* const slots_;
  const uint64_t mask_;
  // Each index on its own cache line so producer and consumer do not false-share.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
};

using SampleRing = SpscRing<Sample>;
using BlockRing = SpscRing<BlockMaximum>;

}  // namespace rtlat
