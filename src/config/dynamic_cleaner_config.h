#pragma once
// The log cleaner's broker keys that change at run time, as Kafka's
// LogCleaner.ReconfigurableConfigs: log.cleaner.threads,
// log.cleaner.backoff.ms, log.cleaner.dedupe.buffer.size and
// log.cleaner.io.max.bytes.per.second. They live in the same dynamic broker
// config document as the topic defaults (config/dynamic_broker_config.h),
// with the same precedence: per-broker > cluster default > static > Kafka's
// default. Unlike those, they are not the default of any topic config.
// (log.cleaner.io.buffer.size and .load.factor, dynamic in Kafka, size
// buffers runnel does not have; log.cleaner.enable is static, as in Kafka.)
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/broker_config.h"
#include "config/dynamic_broker_config.h"

namespace runnel {

struct CleanerSettings {
  int32_t threads = 1;                                      // log.cleaner.threads
  int64_t backoff_ms = 15000;                               // log.cleaner.backoff.ms
  int64_t dedupe_buffer_size = 128LL << 20;                 // log.cleaner.dedupe.buffer.size
  double io_max_bytes_per_second = 1.7976931348623157e308;  // log.cleaner.io.max.bytes.per.second (Double.MaxValue)
  bool operator==(const CleanerSettings&) const = default;
};

// What the config file and --set gave (log.cleaner.threads, ...).
CleanerSettings static_cleaner_settings(const BrokerConfig& config);

struct DynamicCleanerKey {
  std::string name;
  int8_t type;  // Kafka's ConfigType: INT 3, LONG 5, DOUBLE 6
};
// Sorted by name.
const std::vector<DynamicCleanerKey>& dynamic_cleaner_keys();
const DynamicCleanerKey* find_dynamic_cleaner_key(std::string_view name);

// Throws ConfigError with Kafka's message when `value` is not valid for `key`.
void validate_cleaner_value(const std::string& key, const std::string& value);

// Kafka's LogCleaner.validateReconfiguration for a change of the dynamic
// configs from `current` to `next`: when this broker's thread count changes,
// the new count must be at least 1, at least half the current one and at
// most double it. Throws ConfigError with Kafka's message.
void validate_cleaner_change(const CleanerSettings& static_settings, const DynamicBrokerConfigs& current,
                             const DynamicBrokerConfigs& next, int32_t node_id);

// The value of `key` under `settings`, as DescribeConfigs prints it.
std::string cleaner_value(const CleanerSettings& settings, const std::string& key);

// `static_settings` overlaid with the cluster default, then the broker's own
// values. A stored value that does not parse is skipped (it was validated
// when written; one edited by hand is reported by the caller's validation).
CleanerSettings effective_cleaner_settings(const CleanerSettings& static_settings, const DynamicBrokerConfigs& dynamic,
                                           int32_t node_id);

// Every level that has a value for `key`, most specific first
// (config_levels()).
std::vector<ConfigLevel> cleaner_key_levels(const DynamicCleanerKey& key, const CleanerSettings& static_settings,
                                            const DynamicBrokerConfigs& dynamic, int32_t node_id);

}  // namespace runnel
