#pragma once
// Enforces the client quotas on requests (producer_byte_rate,
// consumer_byte_rate, controller_mutation_rate: config/client_quota_config.h)
// as Kafka's
// ClientQuotaManager: each group of clients that shares a quota (see
// resolve_client_quota) has a rate measured over eleven 1 s windows; a
// Produce records its request's size, a consumer's Fetch its response's,
// and over the quota the answer carries the throttle time (what brings the
// rate back to the quota) and the connection reads nothing more for that
// long (Kafka mutes the channel; KIP-219). controller_mutation_rate counts
// the partitions CreateTopics, CreatePartitions and DeleteTopics create or
// delete, in a token bucket (KIP-599; quota_rate.h).
//
// Thread-safety: every method may be called from any shard. One mutex,
// taken only for a request whose client has a quota of that kind:
// enabled() is an atomic read.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/client_quota_config.h"
#include "base/quota_rate.h"

namespace runnel {

class ClientQuotaManager {
 public:
  enum class Kind { kProduce = 0, kFetch = 1, kControllerMutation = 2 };
  static constexpr int kKinds = 3;

  // Installs the quotas (at start-up and on every change). Rates measured
  // so far are kept; those of groups that no longer have a quota go.
  void configure(const ClientQuotas& quotas);
  // Whether any user or client-id quota of this kind exists.
  bool enabled(Kind kind) const { return enabled_[index(kind)].load(std::memory_order_acquire); }

  // Records `bytes` for the client (`principal` as "User:alice", the
  // request's client id) at `now_ms` (monotonic) and returns the throttle
  // time in ms (0 within its quota, or without one).
  int32_t record(Kind kind, std::string_view principal, std::string_view client_id, double bytes, int64_t now_ms);
  // Takes back bytes recorded by record(): a throttled Fetch answers with
  // nothing, so what it would have sent does not count (as Kafka's
  // unrecordQuotaSensor).
  void unrecord(Kind kind, std::string_view principal, std::string_view client_id, double bytes, int64_t now_ms);
  // The most a client may take in one go without being throttled whatever
  // else it did (Kafka's getMaxValueInQuotaWindow: the quota times ten
  // windows); nullopt without a quota. Caps a Fetch's max_bytes.
  std::optional<int64_t> max_in_window(Kind kind, std::string_view principal, std::string_view client_id);

  // controller_mutation_rate: `partitions` created or deleted by the client
  // at `now_ms`. Strict (CreateTopics v6+, CreatePartitions v3+,
  // DeleteTopics v5+): when the client's bucket is already below zero,
  // nothing is taken and *allowed is false (the topic fails with
  // THROTTLING_QUOTA_EXCEEDED); otherwise they are taken, even past zero.
  // Returns the throttle time: until the bucket is back at zero.
  int32_t record_mutations(std::string_view principal, std::string_view client_id, double partitions, int64_t now_ms,
                           bool strict, bool* allowed);
  // Gives back partitions taken for a change that then failed.
  void refund_mutations(std::string_view principal, std::string_view client_id, double partitions, int64_t now_ms);

  // For /metrics (Kafka's per user/client-id byte-rate and throttle-time):
  // each group of clients measured against a byte-rate quota, with its rate
  // now and its quota.
  struct GroupRate {
    Kind kind;
    std::string user;
    std::string client_id;
    double rate = 0;
    double limit = 0;
  };
  std::vector<GroupRate> group_rates(int64_t now_ms);

  // For /metrics: requests answered with a throttle time, and the throttle
  // time given, by kind.
  uint64_t throttled(Kind kind) const { return stats_[index(kind)].throttled.load(std::memory_order_relaxed); }
  uint64_t throttle_ms(Kind kind) const { return stats_[index(kind)].throttle_ms.load(std::memory_order_relaxed); }

 private:
  static size_t index(Kind kind) { return static_cast<size_t>(kind); }
  static std::string_view key_of(Kind kind);
  // Kafka's user name: the principal without its "User:" type.
  static std::string_view user_of(std::string_view principal);
  // Counts a throttle of `throttle_ms` for /metrics; returns it in whole ms.
  int32_t note_throttle(Kind kind, double throttle_ms);
  // Groups not recorded for this long are dropped (Kafka: an hour).
  static constexpr int64_t kIdleExpiryMs = 3600 * 1000;

  struct Stats {
    std::atomic<uint64_t> throttled{0};
    std::atomic<uint64_t> throttle_ms{0};
  };
  std::array<std::atomic<bool>, kKinds> enabled_{};
  std::array<Stats, kKinds> stats_;
  std::mutex mu_;  // guards everything below
  ClientQuotas quotas_;
  // (kind, user, client-id) of a group -> its rate.
  std::map<std::tuple<int, std::string, std::string>, QuotaRate> rates_;
  // (user, client-id) of a group -> its controller mutation bucket.
  std::map<std::pair<std::string, std::string>, QuotaTokenBucket> buckets_;
  int64_t last_expiry_ms_ = 0;
};

}  // namespace runnel
