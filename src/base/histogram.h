#pragma once
// A histogram for metrics, in Prometheus' shape: cumulative counts under
// fixed upper bounds, a count and a sum. Observing is a few relaxed atomic
// adds and no lock, so it is cheap enough for the request path; it is meant
// to be owned by one shard (or one pool of threads) and read by a scraper.
//
// Thread-safety: observe() and snapshot() may be called from any thread; a
// snapshot taken while observations land may be off by those in flight
// (count and buckets are read one by one), as any Prometheus client's is.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace runnel {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
  explicit Histogram(std::span<const double> bounds)
      : bounds_(bounds.begin(), bounds.end()), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
  }
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  // Nanoseconds observed as seconds, the unit Prometheus wants.
  void observe_ns(int64_t ns) { observe(static_cast<double>(ns) / 1e9); }

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (= count)
    double sum = 0;
    uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
    // Adds another snapshot of the same bounds (one metric kept per shard).
    void merge(const Snapshot& other) {
      if (cumulative.empty()) {
        *this = other;
        return;
      }
      for (size_t i = 0; i < cumulative.size() && i < other.cumulative.size(); ++i)
        cumulative[i] += other.cumulative[i];
      sum += other.sum;
    }
  };
  Snapshot snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    uint64_t running = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      running += counts_[i].load(std::memory_order_relaxed);
      s.cumulative.push_back(running);
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bounds for latencies in seconds: 50 µs to 10 s, about three per decade,
// and finer from 0.5 to 15 ms, where a sync's tail lies on a local disk
// (a produce's p99 of 3 against 6 ms must fall in different buckets to be
// told apart).
inline constexpr double kLatencyBounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002,
                                            0.0025,  0.003,  0.004,   0.005,  0.0075,  0.01,  0.015,  0.025,
                                            0.05,    0.1,    0.25,    0.5,    1,       2.5,   5,      10};

}  // namespace runnel
