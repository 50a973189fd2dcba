#include "hdr_counts.h"

#include <algorithm>
#include <new>

namespace rtlat {
namespace {

// HdrHistogram's layout for a lowest discernible value of 1 and 3 significant digits: 2 * 10^3
// values at unit resolution need 2^11 sub-buckets; every bucket after the first uses the upper half
// of them (1024 indexes), each bucket twice as wide in value as the one before.
constexpr int kSubBucketHalfCountMagnitude = 10;
constexpr uint64_t kSubBucketHalfCount = uint64_t{1} << kSubBucketHalfCountMagnitude;
constexpr uint64_t kSubBucketMask = 2 * kSubBucketHalfCount - 1;
constexpr int kLeadingZeroCountBase = 64 - 11;
// The largest value JS histograms hold (hdr-histogram-js computes in doubles): 2^53 - 1 ns, 104 days.
// A latency beyond it (a clock stepped by months) counts at it; the native maximum keeps its value.
constexpr uint64_t kHighestValue = (uint64_t{1} << 53) - 1;
// Buckets 0 to 42 cover every value up to kHighestValue.
constexpr std::size_t kCountsLength = (42 + 2) << kSubBucketHalfCountMagnitude;

constexpr int32_t kV2EncodingCookie = 0x1c849303 | 0x10;
constexpr int32_t kSignificantDigits = 3;
constexpr int64_t kLowestDiscernibleValue = 1;
constexpr uint64_t kDoubleOne = 0x3ff0000000000000;  // integerToDoubleValueConversionRatio 1.0, as Java writes it

int bucketOf(uint64_t value) { return kLeadingZeroCountBase - __builtin_clzll(value | kSubBucketMask); }

std::size_t indexOf(uint64_t value) {
  const int bucket = bucketOf(value);
  const uint64_t subBucket = value >> bucket;
  return (static_cast<std::size_t>(bucket + 1) << kSubBucketHalfCountMagnitude) + subBucket - kSubBucketHalfCount;
}

// The highest value that counts at `index` (HdrHistogram's highestEquivalentValue).
uint64_t highestValueAt(std::size_t index) {
  int bucket = static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1;
  uint64_t subBucket = (index & (kSubBucketHalfCount - 1)) + kSubBucketHalfCount;
  if (bucket < 0) {
    subBucket -= kSubBucketHalfCount;
    bucket = 0;
  }
  return (subBucket << bucket) + (uint64_t{1} << bucket) - 1;
}

void putBigEndian(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// ZigZag LEB128-64b9B, as HdrHistogram's ZigZagEncoding.putLong: 7 bits a byte, the ninth byte 8.
void putZigZag(std::vector<uint8_t>& out, int64_t value) {
  uint64_t bits = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int byte = 0; byte < 8; ++byte) {
    if ((bits >> 7) == 0) {
      out.push_back(static_cast<uint8_t>(bits));
      return;
    }
    out.push_back(static_cast<uint8_t>((bits & 0x7f) | 0x80));
    bits >>= 7;
  }
  out.push_back(static_cast<uint8_t>(bits));
}

// A run of zero counts: one 0, or the run's length negated.
void putZeros(std::vector<uint8_t>& out, std::size_t zeros) {
  if (zeros == 1) putZigZag(out, 0);
  if (zeros > 1) putZigZag(out, -static_cast<int64_t>(zeros));
}

}  // namespace

HdrCounts::HdrCounts()
    : counts_(static_cast<uint64_t*>(std::calloc(kCountsLength, sizeof(uint64_t)))), lowest_(kCountsLength) {
  if (!counts_) throw std::bad_alloc();
}

void HdrCounts::record(int64_t valueNs) {
  const uint64_t value = valueNs > 0 ? static_cast<uint64_t>(valueNs) : 0;
  const std::size_t index = indexOf(value < kHighestValue ? value : kHighestValue);
  counts_[index]++;
  if (index < lowest_) lowest_ = index;
  if (index > highest_) highest_ = index;
}

void HdrCounts::takeEncoded(std::vector<uint8_t>& out) {
  const bool empty = lowest_ > highest_;
  const std::size_t start = out.size();
  putBigEndian(out, static_cast<uint32_t>(kV2EncodingCookie), 4);
  putBigEndian(out, 0, 4);  // the payload's length, filled in below
  putBigEndian(out, 0, 4);  // normalizingIndexOffset
  putBigEndian(out, kSignificantDigits, 4);
  putBigEndian(out, kLowestDiscernibleValue, 8);
  // highestTrackableValue: enough for the highest count, and at least 2 (HdrHistogram's minimum).
  putBigEndian(out, empty ? 2 : std::max<uint64_t>(highestValueAt(highest_), 2), 8);
  putBigEndian(out, kDoubleOne, 8);
  const std::size_t payloadStart = out.size();
  if (empty) {
    putZigZag(out, 0);  // HdrHistogram writes an empty histogram's one count, at index 0
  } else {
    // The counts from index 0 to the highest, the ones below the lowest recorded all zero.
    std::size_t zeros = lowest_;
    for (std::size_t index = lowest_; index <= highest_; ++index) {
      const uint64_t count = counts_[index];
      if (count == 0) {
        zeros++;
        continue;
      }
      putZeros(out, zeros);
      zeros = 0;
      putZigZag(out, static_cast<int64_t>(count));
      counts_[index] = 0;
    }
  }
  const uint32_t payloadLength = static_cast<uint32_t>(out.size() - payloadStart);
  for (int byte = 0; byte < 4; ++byte) out[start + 4 + byte] = static_cast<uint8_t>(payloadLength >> (8 * (3 - byte)));
  lowest_ = kCountsLength;
  highest_ = 0;
}

}  // namespace rtlat
