#pragma once
// A rate measured as Kafka measures every quota (its Rate stat with a
// quota): a sum over `kSamples` windows of `kWindowMs` (quota.window.num 11,
// quota.window.size.seconds 1), divided by the time they span but never by
// less than kSamples - 1 windows. So a quiet client takes a burst of up to
// ten seconds' worth of its limit before its first throttle, as in Kafka.
//
// Over a limit, the throttle is what brings the rate back down to it:
// (rate - limit) / limit times the span (Kafka's QuotaUtils.throttleTime).
//
// QuotaRate: any value (bytes for the client byte-rate quotas).
// QuotaTokenBucket: Kafka's TokenBucket, which controller_mutation_rate
// uses (KIP-599) instead of the windowed rate.
// ConnectionCreationRate: one per connection (KIP-612), the delay capped at
// one window, as Kafka's acceptor waits at most that long.
//
// Thread-safety: none; the owner locks.
#include <cstdint>
#include <vector>

namespace runnel {

class QuotaRate {
 public:
  static constexpr int kSamples = 11;         // Kafka's quota.window.num
  static constexpr int64_t kWindowMs = 1000;  // Kafka's quota.window.size.seconds

  // Adds `value` at `now_ms` (a monotonic clock; a negative value takes
  // back one recorded before) and returns how long (ms) the client waits to
  // be back within `limit` per second (0 when within it).
  int64_t record(int64_t now_ms, double value, double limit);
  // The rate per second at `now_ms`, as the quota sees it.
  double rate(int64_t now_ms);
  // When the rate was last recorded (ms), for dropping idle ones.
  int64_t last_record_ms() const { return last_record_ms_; }

 private:
  struct Sample {
    int64_t start_ms = 0;
    double sum = 0;
  };
  void purge_expired(int64_t now_ms);
  double total() const;
  // The span the rate is divided by, in ms.
  int64_t span_ms(int64_t now_ms);

  std::vector<Sample> samples_;
  size_t current_ = 0;
  int64_t last_record_ms_ = 0;
};

// Permits refilled at `limit` per second up to a burst of kSamples windows'
// worth (Kafka's TokenBucket: quota x samples x window); a client may go
// below zero, and is over its quota until the bucket is back at zero.
class QuotaTokenBucket {
 public:
  // The tokens left at `now_ms` (a full bucket the first time).
  double tokens(int64_t now_ms, double limit);
  // Takes `value` tokens (a negative value gives them back).
  void take(int64_t now_ms, double value, double limit);
  int64_t last_record_ms() const { return last_record_ms_; }

 private:
  // Kafka's TokenBucket burst: quota x samples x window.
  static double burst(double limit);
  bool started_ = false;
  double tokens_ = 0;
  int64_t refilled_ms_ = 0;
  int64_t last_record_ms_ = 0;
};

class ConnectionCreationRate {
 public:
  static constexpr int64_t kMaxDelayMs = QuotaRate::kWindowMs;

  // Counts one connection at `now_ms` and returns how long to wait before
  // accepting it (0 within `limit` per second; at most one window).
  int64_t record(int64_t now_ms, int32_t limit);
  // Takes back the connection record() just counted: one refused rather
  // than delayed (Kafka's per-IP rate) does not count.
  void unrecord(int64_t now_ms) { (void)rate_.record(now_ms, -1, 0); }
  double rate(int64_t now_ms) { return rate_.rate(now_ms); }

 private:
  QuotaRate rate_;
};

}  // namespace runnel
