#include "config/group_config.h"

#include <gtest/gtest.h>

#include "config/dynamic_broker_config.h"

namespace runnel {
namespace {

std::string refusal(const std::map<std::string, std::string>& configs, const GroupConfigBounds& bounds = {}) {
  try {
    validate_group_configs(configs, bounds);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(GroupConfig, KafkasKeysSortedWithTheirBrokerDefaults) {
  const auto& infos = group_config_infos();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "consumer.heartbeat.interval.ms");
  EXPECT_EQ(infos[0].broker_key, "group.consumer.heartbeat.interval.ms");
  EXPECT_EQ(infos[0].kafka_default, 5000);
  EXPECT_EQ(infos[1].name, "consumer.session.timeout.ms");
  EXPECT_EQ(infos[1].kafka_default, 45000);
  EXPECT_EQ(find_group_config_info("share.session.timeout.ms"), nullptr);
}

TEST(GroupConfig, ValidatesAsKafkasGroupConfig) {
  EXPECT_EQ(refusal({}), "");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "50000"}, {"consumer.heartbeat.interval.ms", "6000"}}), "");
  EXPECT_EQ(refusal({{"foo", "1"}}), "Unknown group config name: foo");
  EXPECT_NE(refusal({{"share.heartbeat.interval.ms", "5000"}}).find("runnel has no share groups"), std::string::npos);
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "x"}}),
            "Invalid value x for configuration consumer.session.timeout.ms: Not a number of type INT");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "99999999999"}}),
            "Invalid value 99999999999 for configuration consumer.session.timeout.ms: Not a number of type INT");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "-3"}}),
            "Invalid value -3 for configuration consumer.session.timeout.ms: Value must be at least 1");
  EXPECT_EQ(refusal({{"consumer.heartbeat.interval.ms", "4999"}}),
            "consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms");
  EXPECT_EQ(refusal({{"consumer.heartbeat.interval.ms", "15001"}}),
            "consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "44999"}}),
            "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "60001"}}),
            "consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms");
  GroupConfigBounds wide{.min_session_timeout_ms = 1, .min_heartbeat_interval_ms = 1};
  // The unset heartbeat interval counts at Kafka's 5000, not the broker's.
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "5000"}}, wide),
            "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms");
  EXPECT_EQ(refusal({{"consumer.session.timeout.ms", "5000"}, {"consumer.heartbeat.interval.ms", "4999"}}, wide), "");
}

TEST(GroupConfig, BrokerBoundsCheckedAsKafkasGroupCoordinatorConfig) {
  EXPECT_NO_THROW(validate_group_config_bounds({}));
  auto message = [](GroupConfigBounds b) -> std::string {
    try {
      validate_group_config_bounds(b);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message({.session_timeout_ms = 10000}),
            "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms");
  EXPECT_EQ(message({.max_session_timeout_ms = 40000}),
            "group.consumer.max.session.timeout.ms must be greater than or equal to "
            "group.consumer.min.session.timeout.ms");
  EXPECT_EQ(
      message({.heartbeat_interval_ms = 20000}),
      "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms");
  EXPECT_EQ(message({.session_timeout_ms = 5000, .min_session_timeout_ms = 1000}),
            "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms");
}

TEST(GroupConfig, TimeoutsFromTheGroupElseTheBroker) {
  GroupConfigBounds b{.session_timeout_ms = 30000, .min_session_timeout_ms = 1000, .heartbeat_interval_ms = 3000};
  EXPECT_EQ(group_timeouts({}, b), (GroupTimeouts{30000, 3000}));
  EXPECT_EQ(group_timeouts({{"consumer.heartbeat.interval.ms", "700"}}, b), (GroupTimeouts{30000, 700}));
  EXPECT_EQ(group_timeouts({{"consumer.session.timeout.ms", "9000"}}, b), (GroupTimeouts{9000, 3000}));
  // A value edited by hand that does not parse leaves the broker's.
  EXPECT_EQ(group_timeouts({{"consumer.session.timeout.ms", "soon"}}, b), (GroupTimeouts{30000, 3000}));
}

TEST(GroupConfig, KeptInTheDynamicConfigDocument) {
  DynamicBrokerConfigs configs;
  configs.group_configs["orders"] = {{"consumer.session.timeout.ms", "50000"}};
  configs.group_configs["empty"] = {};
  auto decoded = decode_dynamic_broker_configs(encode_dynamic_broker_configs(configs));
  ASSERT_EQ(decoded.group_configs.size(), 1u);  // a group without values is not written
  EXPECT_EQ(decoded.group_configs["orders"], configs.group_configs["orders"]);
  EXPECT_THROW(decode_dynamic_broker_configs(R"({"version":1,"groups":[]})"), std::invalid_argument);
  EXPECT_THROW(decode_dynamic_broker_configs(R"({"version":1,"groups":{"g":{"a":1}}})"), std::invalid_argument);
}

}  // namespace
}  // namespace runnel
