#include "histogram_thread.h"

#include <signal.h>

#include <utility>

namespace rtlat {
namespace {

// Latencies moved from a ring per lock of its histogram: a take waits for at most one such chunk.
constexpr std::size_t kChunk = 4096;

}  // namespace

HistogramThread::HistogramThread(std::vector<SampleRing*> rings, int64_t intervalNs)
    : rings_(std::move(rings)), chunk_(kChunk), interval_(intervalNs) {
  for (std::size_t i = 0; i < rings_.size(); ++i) histograms_.push_back(std::make_unique<Recorded>());
}

HistogramThread::~HistogramThread() { stop(); }

int HistogramThread::launch() {
  // As the measuring threads: no process-directed signal is ever handled here.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const int error = pthread_create(&thread_, nullptr, &HistogramThread::entry, this);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  joinable_ = error == 0;
  // "rtlat/hist" in top -H and ps -L, beside the measuring threads rtlat/0, rtlat/1, ...; named here,
  // not by the thread itself, so that the name is there when launch() returns.
  if (joinable_) pthread_setname_np(thread_, "rtlat/hist");
  return error;
}

void* HistogramThread::entry(void* self) {
  auto* thread = static_cast<HistogramThread*>(self);
  std::unique_lock<std::mutex> lock(thread->mutex_);
  while (!thread->stopping_) {
    thread->wake_.wait_for(lock, thread->interval_, [thread] { return thread->stopping_; });
    if (thread->stopping_) break;
    lock.unlock();
    thread->recordAvailable();
    lock.lock();
  }
  return nullptr;
}

void HistogramThread::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (joinable_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    pthread_join(thread_, nullptr);
    joinable_ = false;
  }
  // The rings' one consumer from here on is this caller; the thread has ended.
  recordAvailable();
}

void HistogramThread::recordAvailable() {
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    Recorded& histogram = *histograms_[i];
    std::size_t moved;
    do {
      int64_t* out = chunk_.data();
      moved = rings_[i]->drain(kChunk, [&out](const Sample& sample) { *out++ = sample.latencyNs; });
      std::lock_guard<std::mutex> lock(histogram.mutex);
      for (std::size_t j = 0; j < moved; ++j) histogram.counts.record(chunk_[j]);
    } while (moved == kChunk);
  }
}

void HistogramThread::take(std::size_t index, std::vector<uint8_t>& out) {
  Recorded& histogram = *histograms_[index];
  std::lock_guard<std::mutex> lock(histogram.mutex);
  histogram.counts.takeEncoded(out);
}

}  // namespace rtlat
