// Dynamic broker configs: which keys are dynamic, the precedence of the
// levels (per-broker > cluster default > static > Kafka's default), and the
// stored document.
#include "config/dynamic_broker_config.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "config/dynamic_cleaner_config.h"
#include "config/topic_config.h"

namespace runnel {
namespace {

TEST(DynamicBrokerConfig, DynamicKeysAreTheTopicDefaultsRunnelActsOn) {
  for (const char* k :
       {"log.retention.ms", "log.retention.bytes", "log.segment.bytes", "log.roll.ms", "log.cleanup.policy",
        "log.flush.interval.messages", "log.flush.interval.ms", "message.max.bytes", "compression.type",
        "min.insync.replicas", "log.message.timestamp.type", "log.message.timestamp.before.max.ms",
        "log.message.timestamp.after.max.ms", "unclean.leader.election.enable"})
    EXPECT_NE(find_dynamic_broker_key(k), nullptr) << k;
  EXPECT_EQ(find_dynamic_broker_key("message.max.bytes")->topic_key, "max.message.bytes");
  EXPECT_EQ(find_dynamic_broker_key("log.roll.ms")->topic_key, "segment.ms");
  // Static, or not a topic default runnel acts on.
  for (const char* k : {"num.partitions", "log.dirs", "broker.id", "log.retention.hours", "log.local.retention.ms",
                        "leader.replication.throttled.replicas", "retention.ms"})
    EXPECT_EQ(find_dynamic_broker_key(k), nullptr) << k;
}

TEST(DynamicBrokerConfig, ValidationNamesTheKey) {
  EXPECT_NO_THROW(validate_dynamic_broker_configs({{"log.retention.ms", "1000"}, {"compression.type", "zstd"}}));
  EXPECT_THROW(validate_dynamic_broker_configs({{"log.retention.ms", "soon"}}), ConfigError);
  EXPECT_THROW(validate_dynamic_broker_configs({{"log.cleanup.policy", "forever"}}), ConfigError);
  EXPECT_THROW(validate_dynamic_broker_configs({{"num.partitions", "3"}}), ConfigError);
}

TEST(DynamicCleanerConfig, KeysValidationAndPrecedence) {
  // Kafka's LogCleaner.ReconfigurableConfigs that runnel has.
  for (const char* k : {"log.cleaner.threads", "log.cleaner.backoff.ms", "log.cleaner.dedupe.buffer.size",
                        "log.cleaner.io.max.bytes.per.second"})
    EXPECT_NE(find_dynamic_cleaner_key(k), nullptr) << k;
  EXPECT_EQ(find_dynamic_cleaner_key("log.cleaner.enable"), nullptr);  // static, as in Kafka
  EXPECT_NO_THROW(validate_dynamic_broker_configs({{"log.cleaner.threads", "2"}, {"log.retention.ms", "1000"}}));
  try {
    validate_dynamic_broker_configs({{"log.cleaner.threads", "0"}});
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "Log cleaner threads should be at least 1");
  }
  EXPECT_THROW(validate_dynamic_broker_configs({{"log.cleaner.backoff.ms", "-1"}}), ConfigError);
  EXPECT_THROW(validate_dynamic_broker_configs({{"log.cleaner.io.max.bytes.per.second", "fast"}}), ConfigError);

  CleanerSettings static_settings;
  static_settings.backoff_ms = 500;
  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"log.cleaner.threads", "2"}, {"log.cleaner.backoff.ms", "100"}};
  dynamic.per_broker[1] = {{"log.cleaner.threads", "3"}};
  auto one = effective_cleaner_settings(static_settings, dynamic, 1);
  EXPECT_EQ(one.threads, 3);
  EXPECT_EQ(one.backoff_ms, 100);
  EXPECT_EQ(one.dedupe_buffer_size, 128LL << 20);
  auto two = effective_cleaner_settings(static_settings, dynamic, 2);
  EXPECT_EQ(two.threads, 2);
  // A topic default's table knows nothing of them.
  EXPECT_NO_THROW((void)effective_topic_defaults(storage::LogConfig{}, dynamic, 1));

  auto levels = cleaner_key_levels(*find_dynamic_cleaner_key("log.cleaner.backoff.ms"), static_settings, dynamic, 1);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[0].value, "100");
  EXPECT_EQ(levels[0].source, ConfigSource::kDynamicDefaultBroker);
  EXPECT_EQ(levels[1].value, "500");
  EXPECT_EQ(levels[1].source, ConfigSource::kStaticBroker);
  EXPECT_EQ(levels[2].value, "15000");
  EXPECT_EQ(levels[2].source, ConfigSource::kDefault);
  EXPECT_EQ(cleaner_value(CleanerSettings{}, "log.cleaner.io.max.bytes.per.second"), "1.7976931348623157E308");
}

// Kafka's LogCleaner.validateReconfiguration: one change may at most halve
// or double the thread count in force on this broker.
TEST(DynamicCleanerConfig, ThreadsAtMostHalveOrDouble) {
  auto error = [](int32_t static_threads, ConfigMap current_default, ConfigMap next_default) -> std::string {
    CleanerSettings static_settings;
    static_settings.threads = static_threads;
    DynamicBrokerConfigs current, next;
    current.cluster_default = std::move(current_default);
    next.cluster_default = std::move(next_default);
    try {
      validate_cleaner_change(static_settings, current, next, 0);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error(1, {}, {{"log.cleaner.threads", "2"}}), "");
  EXPECT_EQ(error(1, {}, {{"log.cleaner.threads", "3"}}),
            "Log cleaner threads cannot be increased to more than double the current value 1");
  EXPECT_EQ(error(8, {}, {{"log.cleaner.threads", "4"}}), "");
  EXPECT_EQ(error(8, {}, {{"log.cleaner.threads", "3"}}),
            "Log cleaner threads cannot be reduced to less than half the current value 8");
  EXPECT_EQ(error(3, {}, {{"log.cleaner.threads", "1"}}), "");  // 3 / 2 == 1, as Kafka's Int division
  // Deleting a dynamic value is a change too: 6 back to the static 1.
  EXPECT_EQ(error(1, {{"log.cleaner.threads", "2"}}, {}), "");
  EXPECT_EQ(error(2, {{"log.cleaner.threads", "6"}}, {}),
            "Log cleaner threads cannot be reduced to less than half the current value 6");
  // Other keys leave the thread count alone.
  EXPECT_EQ(error(1, {}, {{"log.cleaner.backoff.ms", "10"}}), "");
  // Another broker's value does not count here.
  CleanerSettings one;
  DynamicBrokerConfigs current, next;
  next.per_broker[5] = {{"log.cleaner.threads", "9"}};
  EXPECT_NO_THROW(validate_cleaner_change(one, current, next, 0));
  EXPECT_THROW(validate_cleaner_change(one, current, next, 5), ConfigError);
}

TEST(DynamicBrokerConfig, PerBrokerOverClusterDefaultOverStatic) {
  storage::LogConfig static_defaults;
  static_defaults.retention_ms = 1000;
  static_defaults.segment_bytes = 2000;
  static_defaults.max_message_bytes = 3000;
  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"log.retention.ms", "5000"}, {"log.segment.bytes", "6000"}};
  dynamic.per_broker[1] = {{"log.retention.ms", "7000"}};
  dynamic.per_broker[2] = {{"log.segment.bytes", "8000"}};

  auto one = effective_topic_defaults(static_defaults, dynamic, 1);
  EXPECT_EQ(one.retention_ms, 7000);                                     // its own
  EXPECT_EQ(one.segment_bytes, 6000);                                    // the cluster default
  EXPECT_EQ(one.max_message_bytes, 3000);                                // static
  EXPECT_EQ(one.retention_bytes, storage::LogConfig{}.retention_bytes);  // Kafka's default
  auto three = effective_topic_defaults(static_defaults, dynamic, 3);
  EXPECT_EQ(three.retention_ms, 5000);
  EXPECT_EQ(three.segment_bytes, 6000);

  // A topic's own setting still wins over all of them.
  auto topic = topic_log_config(one, {{"retention.ms", "9000"}});
  EXPECT_EQ(topic.retention_ms, 9000);
  EXPECT_EQ(topic.segment_bytes, 6000);
}

TEST(DynamicBrokerConfig, LevelsMostSpecificFirst) {
  storage::LogConfig static_defaults;
  static_defaults.retention_ms = 1000;
  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"log.retention.ms", "5000"}};
  dynamic.per_broker[1] = {{"log.retention.ms", "7000"}};
  const auto& key = *find_dynamic_broker_key("log.retention.ms");
  auto levels = broker_key_levels(key, static_defaults, dynamic, 1);
  ASSERT_EQ(levels.size(), 4u);
  EXPECT_EQ(levels[0].value, "7000");
  EXPECT_EQ(levels[0].source, ConfigSource::kDynamicBroker);
  EXPECT_EQ(levels[1].value, "5000");
  EXPECT_EQ(levels[1].source, ConfigSource::kDynamicDefaultBroker);
  EXPECT_EQ(levels[2].value, "1000");
  EXPECT_EQ(levels[2].source, ConfigSource::kStaticBroker);
  EXPECT_EQ(levels[3].value, "604800000");
  EXPECT_EQ(levels[3].source, ConfigSource::kDefault);
  // Nothing set anywhere: Kafka's default alone.
  levels = broker_key_levels(key, storage::LogConfig{}, DynamicBrokerConfigs{}, 1);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].source, ConfigSource::kDefault);
}

TEST(DynamicBrokerConfig, DocumentRoundTrips) {
  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"log.retention.ms", "5000"}};
  dynamic.per_broker[2] = {{"message.max.bytes", "100"}};
  EXPECT_EQ(decode_dynamic_broker_configs(encode_dynamic_broker_configs(dynamic)), dynamic);
  EXPECT_EQ(decode_dynamic_broker_configs(encode_dynamic_broker_configs({})), DynamicBrokerConfigs{});
  for (const char* bad : {"", "[]", "{}", R"({"version":2})", R"({"version":1,"default":[]})",
                          R"({"version":1,"default":{"a":1}})", R"({"version":1,"brokers":{"x":{}}})",
                          R"({"version":1,"brokers":{"-1":{}}})", R"({"version":1,"brokers":{"1":"a"}})"})
    EXPECT_THROW(decode_dynamic_broker_configs(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace runnel
