// Latency histogram for the benchmark tool: fixed memory, ~0.1% precision, no allocation
// per sample, mergeable across threads (one histogram per thread, merged at the end).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace runnel::bench {

// Log-linear buckets (HdrHistogram's layout with 1024 sub-buckets per power of two):
// values below 2048 ns are exact, larger ones keep their top 11 bits.
class Histogram {
 public:
  Histogram() : counts_(kSub * 2 + kHalf * kMaxShift, 0) {}

  void record(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
    min_ = std::min(min_, ns);
    sum_ += ns;
  }

  void merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
    sum_ += o.sum_;
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }
  double mean() const { return total_ ? double(sum_) / double(total_) : 0.0; }

  // The smallest recorded value v such that at least q (0..1) of all samples are <= v
  // (reported as the middle of its bucket, and never above the true maximum).
  uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = uint64_t(q * double(total_) + 0.5);
    if (rank < 1) rank = 1;
    if (rank > total_) rank = total_;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(value_of(i), max_);
    }
    return max_;
  }

 private:
  static constexpr uint64_t kSub = 2048;   // exact below this
  static constexpr uint64_t kHalf = 1024;  // sub-buckets per further power of two
  static constexpr int kMaxShift = 44;

  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    int shift = int(std::bit_width(v)) - 11;  // v >> shift is in [1024, 2048)
    if (shift > kMaxShift) shift = kMaxShift, v = (kSub - 1) << shift;
    return size_t(kSub + uint64_t(shift - 1) * kHalf + ((v >> shift) - kHalf));
  }
  static uint64_t value_of(size_t i) {
    if (i < kSub) return i;
    uint64_t k = i - kSub;
    int shift = int(k / kHalf) + 1;
    uint64_t top = (k % kHalf) + kHalf;
    return (top << shift) + (uint64_t(1) << (shift - 1));
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0, max_ = 0, min_ = UINT64_MAX, sum_ = 0;
};

}  // namespace runnel::bench
