#pragma once
// Topic-level configuration: Kafka's topic config names (retention.ms,
// segment.bytes, ...) mapped onto storage::LogConfig. Used by the topic
// catalogue (CreateTopics, AlterConfigs) and DescribeConfigs. Stateless;
// thread-safe.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config_error.h"
#include "storage/log_config.h"

namespace runnel {

// The broker defaults overlaid with a topic's own settings. Throws
// ConfigError for unknown names or bad values.
storage::LogConfig topic_log_config(const storage::LogConfig& defaults,
                                    const std::map<std::string, std::string>& overrides);

// The names and broker-default values of every topic config (DescribeConfigs).
std::vector<std::pair<std::string, std::string>> topic_config_defaults(const storage::LogConfig& defaults);

// True when `name` is a topic config we know.
bool is_topic_config(const std::string& name);

}  // namespace runnel
