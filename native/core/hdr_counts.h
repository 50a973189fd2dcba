// Latency counts in HdrHistogram's layout, for the histograms a session records natively
// (SessionConfig::recordIntervalNs): lowest discernible value 1 ns and 3 significant digits, like
// rtlat's JS histograms (src/engine/histogram.ts), so a take crosses to JS in HdrHistogram's V2
// encoding and decodes there into exactly the buckets a JS histogram would have recorded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace rtlat {

class HdrCounts {
 public:
  HdrCounts();

  // A negative latency (a broken clock) counts as 0, as the JS recorder clamps it; one beyond 2^53 - 1
  // ns (104 days: a clock stepped by months), which JS histograms cannot hold, counts as 2^53 - 1.
  void record(int64_t valueNs);
  // Appends the counts in HdrHistogram's V2 encoding (uncompressed) to `out` and zeroes them.
  void takeEncoded(std::vector<uint8_t>& out);

 private:
  struct Free {
    void operator()(uint64_t* counts) const { std::free(counts); }
  };
  // calloc'ed: the kernel maps zero pages lazily, so only the buckets that latencies reach take memory.
  std::unique_ptr<uint64_t[], Free> counts_;
  // The indexes recorded into since the last take: a take visits only them. lowest_ > highest_: none.
  std::size_t lowest_;
  std::size_t highest_ = 0;
};

}  // namespace rtlat
