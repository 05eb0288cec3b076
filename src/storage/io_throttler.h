#pragma once
// Bounds the bytes per second a background copier reads and writes (Kafka's
// Throttler): the log cleaner (log.cleaner.io.max.bytes.per.second) and the
// copies of replicas moving between log directories
// (replica.alter.log.dirs.io.max.bytes.per.second). Every thread reports
// what it moved, and a caller that is ahead of the rate sleeps until it is
// not. The rate is measured over windows of a second or
// so, so a burst is paid back promptly rather than averaged away.
//
// Thread-safety: all methods are safe from any thread (one mutex, held only
// to account; sleeping happens outside it).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace runnel::storage {

class IoThrottler {
 public:
  // `bytes_per_second` <= 0 or infinite: no limit.
  explicit IoThrottler(double bytes_per_second) : rate_(bytes_per_second) {}
  // Accounts `bytes` and sleeps as long as the callers together are ahead of
  // the rate. Returns early (without sleeping further) once `stop` is set.
  void throttle(uint64_t bytes, const std::atomic<bool>* stop = nullptr);
  bool limited() const;
  // A new rate (a dynamic config changed), measured from a fresh window; a
  // caller asleep wakes within 50 ms (a throttle lifted takes effect at
  // once, rather than after a sleep the old rate asked for).
  void set_rate(double bytes_per_second);

 private:
  std::atomic<double> rate_;
  std::atomic<uint64_t> generation_{0};  // set_rate() calls so far
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
  double window_bytes_ = 0;
};

}  // namespace runnel::storage
