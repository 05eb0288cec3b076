#pragma once
// The rate of new connections that Kafka's max.connection.creation.rate
// (KIP-612) limits, measured as Kafka measures every quota: a windowed rate
// over `samples` windows of `window_ms` (quota.window.num 11,
// quota.window.size.seconds 1), divided by the time they span but never by
// less than samples - 1 windows. So a quiet listener takes a burst of up to
// ten seconds' worth of its limit before the first delay, as Kafka's does.
//
// When a connection takes the rate over `limit`, the delay returned is what
// brings it back down to the limit ((rate - limit) / limit times the span),
// capped at one window, as Kafka's acceptor waits before its next accept.
// The connection is counted either way: it is accepted after the delay.
//
// Thread-safety: none; ConnectionQuotas calls it under its mutex.
#include <cstdint>
#include <vector>

namespace runnel {

class ConnectionCreationRate {
 public:
  static constexpr int kSamples = 11;         // Kafka's quota.window.num
  static constexpr int64_t kWindowMs = 1000;  // Kafka's quota.window.size.seconds
  static constexpr int64_t kMaxDelayMs = kWindowMs;

  // Counts one connection at `now_ms` (a monotonic clock) and returns how
  // long to wait before accepting it (0 within `limit` per second).
  int64_t record(int64_t now_ms, int32_t limit);
  // Connections per second at `now_ms`, as the quota sees it.
  double rate(int64_t now_ms);

 private:
  struct Sample {
    int64_t start_ms = 0;
    double count = 0;
  };
  void purge_expired(int64_t now_ms);
  // Connections counted in the samples.
  double total() const;
  // The span the rate is divided by, in ms.
  int64_t span_ms(int64_t now_ms);

  std::vector<Sample> samples_;
  size_t current_ = 0;
};

}  // namespace runnel
