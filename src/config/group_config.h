#pragma once
// Group configs (Kafka 4's GROUP config resource, KIP-848): values set on
// one consumer group with IncrementalAlterConfigs / AlterConfigs and read
// with DescribeConfigs (kafka-configs.sh --entity-type groups). runnel has
// Kafka's two consumer-group keys: consumer.session.timeout.ms and
// consumer.heartbeat.interval.ms, which override the broker's
// group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms
// for that group's consumer-protocol members, each within the broker's
// group.consumer.min/max.* bounds. Kafka's share.* keys are refused: runnel
// has no share groups (KIP-932).
//
// The overrides are kept in the dynamic broker config document
// (config/dynamic_broker_config.h) under "groups".
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"

namespace runnel {

// What DescribeConfigs tells of one group config.
struct GroupConfigInfo {
  std::string name;        // consumer.session.timeout.ms
  std::string broker_key;  // the broker key that is its default: group.consumer.session.timeout.ms
  int32_t kafka_default = 0;
  std::string documentation;
};
// Every group config, sorted by name.
const std::vector<GroupConfigInfo>& group_config_infos();
const GroupConfigInfo* find_group_config_info(std::string_view name);

// The broker's settings a group's values are checked against and default to.
struct GroupConfigBounds {
  int32_t session_timeout_ms = 45000;         // group.consumer.session.timeout.ms
  int32_t min_session_timeout_ms = 45000;     // group.consumer.min.session.timeout.ms
  int32_t max_session_timeout_ms = 60000;     // group.consumer.max.session.timeout.ms
  int32_t heartbeat_interval_ms = 5000;       // group.consumer.heartbeat.interval.ms
  int32_t min_heartbeat_interval_ms = 5000;   // group.consumer.min.heartbeat.interval.ms
  int32_t max_heartbeat_interval_ms = 15000;  // group.consumer.max.heartbeat.interval.ms
};

// Kafka's start-up checks of the broker's group.consumer.* timing keys
// (GroupCoordinatorConfig): each default within its bounds, the heartbeat
// interval below the session timeout. Throws ConfigError with Kafka's message.
void validate_group_config_bounds(const GroupConfigBounds& bounds);

// Kafka's checks of a group's whole set of values (GroupConfig.validate):
// every name known, every value an INT >= 1, each within the broker's
// bounds, and the session timeout above the heartbeat interval (an unset one
// taken at Kafka's default, as Kafka does). Throws ConfigError with Kafka's
// message.
void validate_group_configs(const std::map<std::string, std::string>& configs, const GroupConfigBounds& bounds);

// The timings in force for a group with `overrides` (its validated values).
struct GroupTimeouts {
  int32_t session_timeout_ms = 45000;
  int32_t heartbeat_interval_ms = 5000;
  bool operator==(const GroupTimeouts&) const = default;
};
GroupTimeouts group_timeouts(const std::map<std::string, std::string>& overrides, const GroupConfigBounds& bounds);

// The broker's default for a group config (its group.consumer.* value).
int32_t group_config_broker_value(const GroupConfigInfo& info, const GroupConfigBounds& bounds);

}  // namespace runnel
