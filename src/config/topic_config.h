#pragma once
// Topic-level configuration: every topic config Kafka 4.x documents (and the
// deprecated names Kafka 3.x still took), with Kafka's validation and
// defaults. Those runnel acts on map onto storage::LogConfig; the others are
// validated, kept with the topic and reported, and topic_config_infos() says
// why they have no effect (the README's table is written from it). Used by
// the topic catalogue (CreateTopics, AlterConfigs) and DescribeConfigs.
// Stateless; thread-safe.
#include <cstdint>
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

// Kafka's ConfigType values (DescribeConfigs' config_type).
namespace config_type {
inline constexpr int8_t kBoolean = 1, kString = 2, kInt = 3, kLong = 5, kDouble = 6, kList = 7;
}  // namespace config_type

// What DescribeConfigs tells of one topic config.
struct TopicConfigInfo {
  std::string name;
  int8_t type = 0;                    // Kafka's ConfigType (BOOLEAN 1, STRING 2, INT 3, LONG 5, DOUBLE 6, LIST 7)
  std::vector<std::string> synonyms;  // the broker keys for its default, most specific first
  // Empty when runnel acts on it; otherwise why it is accepted without effect.
  std::string not_acted_on;
  std::string documentation;
};
// Every topic config, sorted by name.
const std::vector<TopicConfigInfo>& topic_config_infos();

// The value of every topic config (in topic_config_infos() order) under
// `config`: for those runnel acts on, what `config` holds; for the others
// Kafka's default.
std::vector<std::pair<std::string, std::string>> topic_config_defaults(const storage::LogConfig& config);

// True when `name` is a topic config.
bool is_topic_config(const std::string& name);

// What DescribeConfigs tells of topic config `name`; nullptr when it is not one.
const TopicConfigInfo* find_topic_config_info(const std::string& name);

// Kafka's default value of topic config `name` ("" when it is not one).
std::string kafka_topic_config_default(const std::string& name);

}  // namespace runnel
