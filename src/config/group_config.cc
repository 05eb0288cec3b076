#include "config/group_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "config/parse.h"

namespace runnel {
namespace {

constexpr std::string_view kSessionTimeout = "consumer.session.timeout.ms";
constexpr std::string_view kHeartbeatInterval = "consumer.heartbeat.interval.ms";

// Kafka's ConfigDef.parse for an INT with atLeast(1), with its messages.
int32_t parse_group_int(const std::string& key, const std::string& value) {
  const std::string s = config::trim(value);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max())
    throw ConfigError(fmt::format("Invalid value {} for configuration {}: Not a number of type INT", value, key));
  if (v < 1) throw ConfigError(fmt::format("Invalid value {} for configuration {}: Value must be at least 1", v, key));
  return static_cast<int32_t>(v);
}

int32_t value_or(const std::map<std::string, std::string>& configs, std::string_view key, int32_t fallback) {
  auto it = configs.find(std::string(key));
  return it == configs.end() ? fallback : parse_group_int(it->first, it->second);
}

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

}  // namespace

const std::vector<GroupConfigInfo>& group_config_infos() {
  static const std::vector<GroupConfigInfo> infos = {
      {std::string(kHeartbeatInterval), "group.consumer.heartbeat.interval.ms", 5000,
       "The heartbeat interval given to the members of a consumer group."},
      {std::string(kSessionTimeout), "group.consumer.session.timeout.ms", 45000,
       "The timeout to detect client failures when using the consumer group protocol."},
  };
  return infos;
}

const GroupConfigInfo* find_group_config_info(std::string_view name) {
  for (const auto& info : group_config_infos())
    if (info.name == name) return &info;
  return nullptr;
}

int32_t group_config_broker_value(const GroupConfigInfo& info, const GroupConfigBounds& bounds) {
  return info.name == kSessionTimeout ? bounds.session_timeout_ms : bounds.heartbeat_interval_ms;
}

void validate_group_config_bounds(const GroupConfigBounds& b) {
  require(b.max_heartbeat_interval_ms >= b.min_heartbeat_interval_ms,
          "group.consumer.max.heartbeat.interval.ms must be greater than or equal to "
          "group.consumer.min.heartbeat.interval.ms");
  require(b.heartbeat_interval_ms >= b.min_heartbeat_interval_ms,
          "group.consumer.heartbeat.interval.ms must be greater than or equal to "
          "group.consumer.min.heartbeat.interval.ms");
  require(
      b.heartbeat_interval_ms <= b.max_heartbeat_interval_ms,
      "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms");
  require(b.max_session_timeout_ms >= b.min_session_timeout_ms,
          "group.consumer.max.session.timeout.ms must be greater than or equal to "
          "group.consumer.min.session.timeout.ms");
  require(b.session_timeout_ms >= b.min_session_timeout_ms,
          "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms");
  require(b.session_timeout_ms <= b.max_session_timeout_ms,
          "group.consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms");
  require(b.heartbeat_interval_ms < b.session_timeout_ms,
          "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms");
}

void validate_group_configs(const std::map<std::string, std::string>& configs, const GroupConfigBounds& b) {
  for (const auto& [name, _] : configs) {
    if (find_group_config_info(name)) continue;
    if (name.starts_with("share."))
      throw ConfigError("Unknown group config name: " + name + " (runnel has no share groups, KIP-932)");
    throw ConfigError("Unknown group config name: " + name);
  }
  // Unset values at Kafka's own defaults, as GroupConfig.validate parses them.
  const int32_t heartbeat =
      value_or(configs, kHeartbeatInterval, find_group_config_info(kHeartbeatInterval)->kafka_default);
  const int32_t session = value_or(configs, kSessionTimeout, find_group_config_info(kSessionTimeout)->kafka_default);
  const std::string hb(kHeartbeatInterval), st(kSessionTimeout);
  require(heartbeat >= b.min_heartbeat_interval_ms,
          hb + " must be greater than or equal to group.consumer.min.heartbeat.interval.ms");
  require(heartbeat <= b.max_heartbeat_interval_ms,
          hb + " must be less than or equal to group.consumer.max.heartbeat.interval.ms");
  require(session >= b.min_session_timeout_ms,
          st + " must be greater than or equal to group.consumer.min.session.timeout.ms");
  require(session <= b.max_session_timeout_ms,
          st + " must be less than or equal to group.consumer.max.session.timeout.ms");
  require(session > heartbeat, st + " must be greater than " + hb);
}

GroupTimeouts group_timeouts(const std::map<std::string, std::string>& overrides, const GroupConfigBounds& b) {
  GroupTimeouts t{b.session_timeout_ms, b.heartbeat_interval_ms};
  // Validated when written; a value that no longer parses (edited by hand)
  // leaves the broker's.
  try {
    t.session_timeout_ms = value_or(overrides, kSessionTimeout, t.session_timeout_ms);
  } catch (const ConfigError&) {
  }
  try {
    t.heartbeat_interval_ms = value_or(overrides, kHeartbeatInterval, t.heartbeat_interval_ms);
  } catch (const ConfigError&) {
  }
  return t;
}

}  // namespace runnel
