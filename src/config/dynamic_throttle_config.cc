#include "config/dynamic_throttle_config.h"

#include <charconv>
#include <optional>

#include "config/config_error.h"
#include "config/parse.h"

namespace runnel {
namespace {

// Kafka's ConfigDef LONG with atLeast(0): surrounding spaces allowed.
std::optional<int64_t> parse_rate(const std::string& value) {
  const std::string s = config::trim(value);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

bool is_replication_throttle_key(std::string_view name) {
  return name == kLeaderThrottleRateKey || name == kFollowerThrottleRateKey || name == kAlterLogDirsRateKey;
}

void validate_throttle_value(const std::string& key, const std::string& value) {
  if (parse_rate(value)) return;
  const std::string s = config::trim(value);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!s.empty() && ec == std::errc() && end == s.data() + s.size())
    throw ConfigError("Invalid value " + value + " for configuration " + key + ": Value must be at least 0");
  throw ConfigError("Invalid value " + value + " for configuration " + key + ": Not a number of type LONG");
}

ReplicationThrottleRates effective_throttle_rates(const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  ReplicationThrottleRates rates;
  for (const ConfigMap* level : {&dynamic.cluster_default, &dynamic.of(node_id)}) {
    if (auto it = level->find(std::string(kLeaderThrottleRateKey)); it != level->end())
      if (auto v = parse_rate(it->second)) rates.leader = *v;
    if (auto it = level->find(std::string(kFollowerThrottleRateKey)); it != level->end())
      if (auto v = parse_rate(it->second)) rates.follower = *v;
    if (auto it = level->find(std::string(kAlterLogDirsRateKey)); it != level->end())
      if (auto v = parse_rate(it->second)) rates.alter_log_dirs = *v;
  }
  return rates;
}

std::vector<ConfigLevel> throttle_rate_levels(std::string_view key, const DynamicBrokerConfigs& dynamic,
                                              int32_t node_id) {
  const std::string unthrottled = std::to_string(kUnthrottledRate);
  return config_levels(std::string(key), dynamic, node_id, unthrottled, unthrottled);
}

}  // namespace runnel
