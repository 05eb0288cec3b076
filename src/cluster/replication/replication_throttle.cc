#include "cluster/replication/replication_throttle.h"

namespace runnel::cluster::replication {

void ReplicationThrottle::set_rate(Side side, int64_t bytes_per_second) {
  std::lock_guard lock(mu_);
  sides_[static_cast<int>(side)].limit = bytes_per_second;
}

int64_t ReplicationThrottle::rate_limit(Side side) const {
  std::lock_guard lock(mu_);
  return sides_[static_cast<int>(side)].limit;
}

bool ReplicationThrottle::exceeded(Side side, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto& s = sides_[static_cast<int>(side)];
  if (s.limit == kUnthrottled) return false;
  return s.rate.rate(now_ms) > static_cast<double>(s.limit);
}

void ReplicationThrottle::record(Side side, int64_t bytes, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto& s = sides_[static_cast<int>(side)];
  if (s.limit == kUnthrottled || bytes <= 0) return;
  (void)s.rate.record(now_ms, static_cast<double>(bytes), static_cast<double>(s.limit));
}

}  // namespace runnel::cluster::replication
