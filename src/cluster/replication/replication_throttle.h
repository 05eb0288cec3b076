#pragma once
// A broker's replication throttle (KIP-73): one byte rate for what it sends
// as leader to throttled followers (leader.replication.throttled.rate), one
// for what it fetches as follower for throttled replicas
// (follower.replication.throttled.rate), each measured as Kafka measures
// them (its Rate stat over 11 one-second windows, base/quota_rate.h). As in
// Kafka, a side that is over its rate leaves its throttled replicas that are
// out of the ISR out of the next fetch (follower) or answers them without
// records (leader); replicas in the ISR are never held back.
//
// Thread-safety: every method from any thread (one mutex; called once per
// fetch, not per record).
#include <cstdint>
#include <limits>
#include <mutex>

#include "base/quota_rate.h"

namespace runnel::cluster::replication {

class ReplicationThrottle {
 public:
  enum class Side { kLeader = 0, kFollower = 1 };
  static constexpr int64_t kUnthrottled = std::numeric_limits<int64_t>::max();

  // bytes per second; kUnthrottled: no limit.
  void set_rate(Side side, int64_t bytes_per_second);
  int64_t rate_limit(Side side) const;
  // Whether `side` is over its rate at `now_ms` (Kafka's isQuotaExceeded);
  // never when unthrottled.
  bool exceeded(Side side, int64_t now_ms);
  // Counts `bytes` of throttled replicas' records sent (leader) or fetched
  // (follower) at `now_ms`.
  void record(Side side, int64_t bytes, int64_t now_ms);

 private:
  struct State {
    int64_t limit = kUnthrottled;
    QuotaRate rate;
  };
  mutable std::mutex mu_;
  State sides_[2];
};

}  // namespace runnel::cluster::replication
