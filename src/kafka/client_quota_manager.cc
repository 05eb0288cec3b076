#include "kafka/client_quota_manager.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace runnel {

std::string_view ClientQuotaManager::key_of(Kind kind) {
  switch (kind) {
    case Kind::kProduce:
      return kProducerByteRate;
    case Kind::kFetch:
      return kConsumerByteRate;
    case Kind::kControllerMutation:
      break;
  }
  return kControllerMutationRate;
}

std::string_view ClientQuotaManager::user_of(std::string_view principal) {
  if (principal.starts_with("User:")) principal.remove_prefix(5);
  return principal;
}

int32_t ClientQuotaManager::note_throttle(Kind kind, double throttle_ms) {
  const auto throttle =
      static_cast<int32_t>(std::llround(std::min<double>(throttle_ms, std::numeric_limits<int32_t>::max())));
  auto& stats = stats_[index(kind)];
  stats.throttled.fetch_add(1, std::memory_order_relaxed);
  stats.throttle_ms.fetch_add(static_cast<uint64_t>(throttle), std::memory_order_relaxed);
  return throttle;
}

void ClientQuotaManager::configure(const ClientQuotas& quotas) {
  std::lock_guard lock(mu_);
  quotas_ = quotas;
  for (Kind kind : {Kind::kProduce, Kind::kFetch, Kind::kControllerMutation})
    enabled_[index(kind)].store(any_client_quota(quotas_, key_of(kind)), std::memory_order_release);
}

int32_t ClientQuotaManager::record(Kind kind, std::string_view principal, std::string_view client_id, double bytes,
                                   int64_t now_ms) {
  if (!enabled(kind)) return 0;
  std::lock_guard lock(mu_);
  auto quota = resolve_client_quota(quotas_, key_of(kind), user_of(principal), client_id);
  if (!quota) return 0;
  if (now_ms - last_expiry_ms_ > kIdleExpiryMs / 10) {
    last_expiry_ms_ = now_ms;
    std::erase_if(rates_, [now_ms](auto& entry) { return now_ms - entry.second.last_record_ms() > kIdleExpiryMs; });
    std::erase_if(buckets_, [now_ms](auto& entry) { return now_ms - entry.second.last_record_ms() > kIdleExpiryMs; });
  }
  auto& rate = rates_[{static_cast<int>(kind), std::move(quota->user), std::move(quota->client_id)}];
  const int64_t throttle = rate.record(now_ms, bytes, quota->limit);
  if (throttle <= 0) return 0;
  return note_throttle(kind, static_cast<double>(throttle));
}

void ClientQuotaManager::unrecord(Kind kind, std::string_view principal, std::string_view client_id, double bytes,
                                  int64_t now_ms) {
  if (!enabled(kind)) return;
  std::lock_guard lock(mu_);
  auto quota = resolve_client_quota(quotas_, key_of(kind), user_of(principal), client_id);
  if (!quota) return;
  auto it = rates_.find({static_cast<int>(kind), quota->user, quota->client_id});
  if (it != rates_.end()) (void)it->second.record(now_ms, -bytes, quota->limit);
}

int32_t ClientQuotaManager::record_mutations(std::string_view principal, std::string_view client_id, double partitions,
                                             int64_t now_ms, bool strict, bool* allowed) {
  *allowed = true;
  if (!enabled(Kind::kControllerMutation)) return 0;
  std::lock_guard lock(mu_);
  auto quota = resolve_client_quota(quotas_, kControllerMutationRate, user_of(principal), client_id);
  if (!quota) return 0;
  auto& bucket = buckets_[{std::move(quota->user), std::move(quota->client_id)}];
  if (!(strict && bucket.tokens(now_ms, quota->limit) < 0))
    bucket.take(now_ms, partitions, quota->limit);
  else
    *allowed = false;
  const double tokens = bucket.tokens(now_ms, quota->limit);
  if (tokens >= 0) return 0;
  // Kafka's ControllerMutationQuotaManager.throttleTimeMs: until the bucket
  // is back at zero.
  return note_throttle(Kind::kControllerMutation, -tokens / quota->limit * 1000.0);
}

void ClientQuotaManager::refund_mutations(std::string_view principal, std::string_view client_id, double partitions,
                                          int64_t now_ms) {
  if (!enabled(Kind::kControllerMutation)) return;
  std::lock_guard lock(mu_);
  auto quota = resolve_client_quota(quotas_, kControllerMutationRate, user_of(principal), client_id);
  if (!quota) return;
  auto it = buckets_.find({quota->user, quota->client_id});
  if (it != buckets_.end()) it->second.take(now_ms, -partitions, quota->limit);
}

std::vector<ClientQuotaManager::GroupRate> ClientQuotaManager::group_rates(int64_t now_ms) {
  std::vector<GroupRate> out;
  std::lock_guard lock(mu_);
  for (auto& [key, rate] : rates_) {
    const auto& [kind, user, client_id] = key;
    const auto k = static_cast<Kind>(kind);
    // The group's quota: looked up as for one of its clients.
    auto quota = resolve_client_quota(quotas_, key_of(k), user, client_id);
    if (!quota || quota->user != user || quota->client_id != client_id) continue;  // no longer this group's
    out.push_back({k, user, client_id, rate.rate(now_ms), quota->limit});
  }
  return out;
}

std::optional<int64_t> ClientQuotaManager::max_in_window(Kind kind, std::string_view principal,
                                                         std::string_view client_id) {
  if (!enabled(kind)) return std::nullopt;
  std::lock_guard lock(mu_);
  auto quota = resolve_client_quota(quotas_, key_of(kind), user_of(principal), client_id);
  if (!quota) return std::nullopt;
  const double most = quota->limit * (QuotaRate::kSamples - 1) * (static_cast<double>(QuotaRate::kWindowMs) / 1000.0);
  return static_cast<int64_t>(std::min<double>(most, std::numeric_limits<int32_t>::max()));
}

}  // namespace runnel
