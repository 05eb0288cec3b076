#include "config/topic_config.h"

#include <fmt/format.h>

#include <cstdint>
#include <functional>

#include "config/parse.h"

namespace runnel {
namespace {

using config::parse_cleanup_policy;
using config::parse_compression_type;
using config::parse_int;
using config::parse_timestamp_type;

using TopicSetter = std::function<void(storage::LogConfig&, const std::string& key, const std::string& value)>;

const std::map<std::string, TopicSetter>& topic_setters() {
  static const std::map<std::string, TopicSetter> setters = {
      {"segment.bytes", [](auto& c, auto& k, auto& v) { c.segment_bytes = parse_int(k, v, 14, INT32_MAX); }},
      {"segment.ms", [](auto& c, auto& k, auto& v) { c.segment_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"retention.ms", [](auto& c, auto& k, auto& v) { c.retention_ms = parse_int(k, v, -1, INT64_MAX); }},
      {"retention.bytes", [](auto& c, auto& k, auto& v) { c.retention_bytes = parse_int(k, v, -1, INT64_MAX); }},
      {"max.message.bytes",
       [](auto& c, auto& k, auto& v) { c.max_message_bytes = int32_t(parse_int(k, v, 0, INT32_MAX)); }},
      {"index.interval.bytes",
       [](auto& c, auto& k, auto& v) { c.index_interval_bytes = int32_t(parse_int(k, v, 0, INT32_MAX)); }},
      {"message.timestamp.type", [](auto& c, auto& k, auto& v) { c.timestamp_type = parse_timestamp_type(k, v); }},
      {"message.timestamp.before.max.ms",
       [](auto& c, auto& k, auto& v) { c.timestamp_before_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"message.timestamp.after.max.ms",
       [](auto& c, auto& k, auto& v) { c.timestamp_after_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"message.timestamp.difference.max.ms",
       [](auto& c, auto& k, auto& v) { c.timestamp_difference_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"cleanup.policy", [](auto& c, auto& k, auto& v) { c.compact = parse_cleanup_policy(k, v); }},
      {"compression.type", [](auto&, auto& k, auto& v) { parse_compression_type(k, v); }},
      {"min.insync.replicas",
       [](auto& c, auto& k, auto& v) { c.min_insync_replicas = int32_t(parse_int(k, v, 1, INT32_MAX)); }},
  };
  return setters;
}

}  // namespace

storage::LogConfig topic_log_config(const storage::LogConfig& defaults,
                                    const std::map<std::string, std::string>& overrides) {
  storage::LogConfig c = defaults;
  for (const auto& [k, v] : overrides) {
    auto it = topic_setters().find(k);
    if (it == topic_setters().end()) throw ConfigError(fmt::format("unknown topic configuration '{}'", k));
    it->second(c, k, v);
  }
  return c;
}

std::vector<std::pair<std::string, std::string>> topic_config_defaults(const storage::LogConfig& d) {
  return {
      {"cleanup.policy", d.compact ? "compact" : "delete"},
      {"compression.type", "producer"},
      {"index.interval.bytes", std::to_string(d.index_interval_bytes)},
      {"max.message.bytes", std::to_string(d.max_message_bytes)},
      {"message.timestamp.after.max.ms", std::to_string(d.effective_timestamp_after_max_ms())},
      {"message.timestamp.before.max.ms", std::to_string(d.effective_timestamp_before_max_ms())},
      {"message.timestamp.type",
       d.timestamp_type == storage::TimestampType::LogAppendTime ? "LogAppendTime" : "CreateTime"},
      {"min.insync.replicas", std::to_string(d.min_insync_replicas)},
      {"retention.bytes", std::to_string(d.retention_bytes)},
      {"retention.ms", std::to_string(d.retention_ms)},
      {"segment.bytes", std::to_string(d.segment_bytes)},
      {"segment.ms", std::to_string(d.segment_ms)},
  };
}

bool is_topic_config(const std::string& name) { return topic_setters().count(name) > 0; }

}  // namespace runnel
