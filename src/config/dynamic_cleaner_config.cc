#include "config/dynamic_cleaner_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "config/config_error.h"
#include "config/parse.h"
#include "config/topic_config.h"

namespace runnel {
namespace {

constexpr std::string_view kThreads = "log.cleaner.threads", kBackoff = "log.cleaner.backoff.ms",
                           kDedupe = "log.cleaner.dedupe.buffer.size", kIoMax = "log.cleaner.io.max.bytes.per.second";

// Applies one validated value.
void apply_cleaner_value(CleanerSettings& s, const std::string& key, const std::string& value) {
  if (key == kThreads)
    s.threads = static_cast<int32_t>(config::parse_int(key, value, 0, std::numeric_limits<int32_t>::max()));
  else if (key == kBackoff)
    s.backoff_ms = config::parse_int(key, value, 0, std::numeric_limits<int64_t>::max());
  else if (key == kDedupe)
    s.dedupe_buffer_size = config::parse_int(key, value, 0, std::numeric_limits<int64_t>::max());
  else if (key == kIoMax)
    s.io_max_bytes_per_second =
        config::parse_double(key, value, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
}

void overlay(CleanerSettings& s, const ConfigMap& values) {
  for (const auto& [k, v] : values) {
    if (!find_dynamic_cleaner_key(k)) continue;
    try {
      apply_cleaner_value(s, k, v);
    } catch (const ConfigError&) {
      // Skipped: see effective_cleaner_settings().
    }
  }
}

}  // namespace

CleanerSettings static_cleaner_settings(const BrokerConfig& config) {
  return {.threads = config.log_cleaner_threads,
          .backoff_ms = config.log_cleaner_backoff_ms,
          .dedupe_buffer_size = config.log_cleaner_dedupe_buffer_size,
          .io_max_bytes_per_second = config.log_cleaner_io_max_bytes_per_second};
}

const std::vector<DynamicCleanerKey>& dynamic_cleaner_keys() {
  static const std::vector<DynamicCleanerKey> keys = {
      {std::string(kBackoff), config_type::kLong},
      {std::string(kDedupe), config_type::kLong},
      {std::string(kIoMax), config_type::kDouble},
      {std::string(kThreads), config_type::kInt},
  };
  return keys;
}

const DynamicCleanerKey* find_dynamic_cleaner_key(std::string_view name) {
  for (const auto& k : dynamic_cleaner_keys())
    if (k.name == name) return &k;
  return nullptr;
}

void validate_cleaner_value(const std::string& key, const std::string& value) {
  CleanerSettings scratch;
  apply_cleaner_value(scratch, key, value);
  // Kafka's LogCleaner.validateReconfiguration: at least one thread.
  if (key == kThreads && scratch.threads < 1) throw ConfigError("Log cleaner threads should be at least 1");
}

std::string cleaner_value(const CleanerSettings& s, const std::string& key) {
  if (key == kThreads) return std::to_string(s.threads);
  if (key == kBackoff) return std::to_string(s.backoff_ms);
  if (key == kDedupe) return std::to_string(s.dedupe_buffer_size);
  if (key == kIoMax) {
    // Java's Double.toString of Kafka's default.
    if (s.io_max_bytes_per_second == std::numeric_limits<double>::max()) return "1.7976931348623157E308";
    return fmt::format("{}", s.io_max_bytes_per_second);
  }
  return "";
}

CleanerSettings effective_cleaner_settings(const CleanerSettings& static_settings, const DynamicBrokerConfigs& dynamic,
                                           int32_t node_id) {
  CleanerSettings s = static_settings;
  overlay(s, dynamic.cluster_default);
  overlay(s, dynamic.of(node_id));
  return s;
}

std::vector<ConfigLevel> cleaner_key_levels(const DynamicCleanerKey& key, const CleanerSettings& static_settings,
                                            const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  return config_levels(key.name, dynamic, node_id, cleaner_value(static_settings, key.name),
                       cleaner_value(CleanerSettings{}, key.name));
}

void validate_cleaner_change(const CleanerSettings& static_settings, const DynamicBrokerConfigs& current,
                             const DynamicBrokerConfigs& next, int32_t node_id) {
  const int32_t threads = effective_cleaner_settings(static_settings, current, node_id).threads;
  const int32_t wanted = effective_cleaner_settings(static_settings, next, node_id).threads;
  if (wanted == threads) return;  // unchanged: passes every rule below
  if (wanted < 1) throw ConfigError("Log cleaner threads should be at least 1");
  if (wanted < threads / 2)
    throw ConfigError(
        fmt::format("Log cleaner threads cannot be reduced to less than half the current value {}", threads));
  if (static_cast<int64_t>(wanted) > static_cast<int64_t>(threads) * 2)
    throw ConfigError(
        fmt::format("Log cleaner threads cannot be increased to more than double the current value {}", threads));
}

}  // namespace runnel
