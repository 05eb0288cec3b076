#include "config/dynamic_throttle_config.h"

#include <gtest/gtest.h>

#include "config/config_error.h"
#include "config/topic_config.h"

namespace runnel {
namespace {

TEST(DynamicThrottleConfig, BrokerOverClusterDefaultOverUnthrottled) {
  DynamicBrokerConfigs dynamic;
  auto rates = effective_throttle_rates(dynamic, 1);
  EXPECT_EQ(rates.leader, kUnthrottledRate);
  EXPECT_EQ(rates.follower, kUnthrottledRate);
  dynamic.cluster_default[std::string(kLeaderThrottleRateKey)] = "1000";
  dynamic.per_broker[1][std::string(kLeaderThrottleRateKey)] = " 500 ";
  dynamic.per_broker[1][std::string(kFollowerThrottleRateKey)] = "0";
  rates = effective_throttle_rates(dynamic, 1);
  EXPECT_EQ(rates.leader, 500);
  EXPECT_EQ(rates.follower, 0);
  EXPECT_EQ(effective_throttle_rates(dynamic, 2).leader, 1000);  // another broker: the cluster default
  // A value that does not parse (edited by hand) is skipped.
  dynamic.per_broker[2][std::string(kLeaderThrottleRateKey)] = "-5";
  EXPECT_EQ(effective_throttle_rates(dynamic, 2).leader, 1000);
  auto levels = throttle_rate_levels(kLeaderThrottleRateKey, dynamic, 1);
  ASSERT_EQ(levels.size(), 3u);  // broker, cluster default, Kafka's default
  EXPECT_EQ(levels[0].value, " 500 ");
  EXPECT_EQ(levels[1].source, ConfigSource::kDynamicDefaultBroker);
  EXPECT_EQ(levels[2].value, "9223372036854775807");
}

TEST(DynamicThrottleConfig, ValidatedAsKafkasLongAtLeastZero) {
  EXPECT_TRUE(is_replication_throttle_key("leader.replication.throttled.rate"));
  EXPECT_TRUE(is_replication_throttle_key("follower.replication.throttled.rate"));
  EXPECT_FALSE(is_replication_throttle_key("leader.replication.throttled.replicas"));
  try {
    validate_throttle_value("leader.replication.throttled.rate", "-1");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "Invalid value -1 for configuration leader.replication.throttled.rate: Value must be at least 0");
  }
  try {
    validate_throttle_value("leader.replication.throttled.rate", "1e6");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "Invalid value 1e6 for configuration leader.replication.throttled.rate: Not a number of type LONG");
  }
  EXPECT_NO_THROW(validate_dynamic_broker_configs({{"follower.replication.throttled.rate", "1048576"}}));
  EXPECT_THROW(validate_dynamic_broker_configs({{"follower.replication.throttled.rate", ""}}), ConfigError);
}

TEST(DynamicThrottleConfig, TopicsNameTheirThrottledReplicas) {
  auto config = topic_log_config(storage::LogConfig{}, {{"leader.replication.throttled.replicas", "0:1, 2:3"},
                                                        {"follower.replication.throttled.replicas", "*"}});
  EXPECT_TRUE(config.leader_throttled.covers(0, 1));
  EXPECT_TRUE(config.leader_throttled.covers(2, 3));
  EXPECT_FALSE(config.leader_throttled.covers(0, 3));
  EXPECT_TRUE(config.follower_throttled.covers(7, 9));
  EXPECT_FALSE(storage::LogConfig{}.leader_throttled.covers(0, 0));
  // Ids past INT32_MAX name nothing rather than fail.
  auto huge = topic_log_config(storage::LogConfig{}, {{"leader.replication.throttled.replicas", "99999999999:1"}});
  EXPECT_FALSE(huge.leader_throttled.covers(0, 1));
  EXPECT_THROW(topic_log_config(storage::LogConfig{}, {{"leader.replication.throttled.replicas", "0:x"}}), ConfigError);
}

}  // namespace
}  // namespace runnel
