#pragma once
// The replication throttle rates (leader.replication.throttled.rate,
// follower.replication.throttled.rate; KIP-73), dynamic broker keys as in
// Kafka, which kafka-reassign-partitions.sh --throttle sets on the brokers
// of a move: the bytes per second a leader sends to, and a follower fetches
// for, the replicas its topics' leader/follower.replication.throttled.replicas
// name, while they are out of the ISR. Kept in the dynamic broker config
// document (config/dynamic_broker_config.h), per broker or as the cluster
// default; unset, unthrottled (Kafka's default, Long.MAX_VALUE).
// replica.alter.log.dirs.io.max.bytes.per.second bounds, the same way, the
// copy of replicas moving between this broker's log directories
// (AlterReplicaLogDirs; kafka-reassign-partitions.sh
// --replica-alter-log-dirs-throttle).
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "config/dynamic_broker_config.h"

namespace runnel {

inline constexpr std::string_view kLeaderThrottleRateKey = "leader.replication.throttled.rate";
inline constexpr std::string_view kFollowerThrottleRateKey = "follower.replication.throttled.rate";
inline constexpr std::string_view kAlterLogDirsRateKey = "replica.alter.log.dirs.io.max.bytes.per.second";
inline constexpr int64_t kUnthrottledRate = std::numeric_limits<int64_t>::max();

bool is_replication_throttle_key(std::string_view name);

// Throws ConfigError with Kafka's message unless `value` is a LONG >= 0.
void validate_throttle_value(const std::string& key, const std::string& value);

struct ReplicationThrottleRates {
  int64_t leader = kUnthrottledRate;          // bytes/s
  int64_t follower = kUnthrottledRate;        // bytes/s
  int64_t alter_log_dirs = kUnthrottledRate;  // bytes/s
};

// The rates in force on broker `node_id`: its own value, else the cluster
// default, else unthrottled. A stored value that does not parse is skipped
// (validated when written).
ReplicationThrottleRates effective_throttle_rates(const DynamicBrokerConfigs& dynamic, int32_t node_id);

// Every level of `key` that has a value, most specific first (config_levels()).
std::vector<ConfigLevel> throttle_rate_levels(std::string_view key, const DynamicBrokerConfigs& dynamic,
                                              int32_t node_id);

}  // namespace runnel
