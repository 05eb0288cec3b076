#include "config/dynamic_txn_config.h"

#include <gtest/gtest.h>

namespace runnel {
namespace {

TEST(DynamicTxnConfig, BrokerOverClusterDefaultOverStatic) {
  DynamicBrokerConfigs dynamic;
  EXPECT_TRUE(effective_txn_verification(true, dynamic, 1));
  EXPECT_FALSE(effective_txn_verification(false, dynamic, 1));
  dynamic.cluster_default[std::string(kTxnVerificationKey)] = "false";
  EXPECT_FALSE(effective_txn_verification(true, dynamic, 1));
  dynamic.per_broker[1][std::string(kTxnVerificationKey)] = "TRUE";
  EXPECT_TRUE(effective_txn_verification(true, dynamic, 1));
  EXPECT_FALSE(effective_txn_verification(true, dynamic, 2));  // another broker: the cluster default
  // A value that does not parse (edited by hand) is skipped.
  dynamic.per_broker[2][std::string(kTxnVerificationKey)] = "maybe";
  EXPECT_FALSE(effective_txn_verification(true, dynamic, 2));
  auto levels = txn_verification_levels(true, dynamic, 1);
  ASSERT_EQ(levels.size(), 3u);  // broker, cluster default, Kafka's default (static = default)
  EXPECT_EQ(levels[0].source, ConfigSource::kDynamicBroker);
  EXPECT_EQ(levels[1].value, "false");
  EXPECT_EQ(levels[2].value, "true");
}

TEST(DynamicTxnConfig, ValidatedAsKafkasBoolean) {
  EXPECT_TRUE(is_dynamic_txn_key("transaction.partition.verification.enable"));
  EXPECT_FALSE(is_dynamic_txn_key("transaction.max.timeout.ms"));
  EXPECT_NO_THROW(validate_txn_value("transaction.partition.verification.enable", "False"));
  EXPECT_THROW(validate_txn_value("transaction.partition.verification.enable", "1"), ConfigError);
  EXPECT_NO_THROW(validate_dynamic_broker_configs({{"transaction.partition.verification.enable", "true"}}));
  EXPECT_THROW(validate_dynamic_broker_configs({{"transaction.partition.verification.enable", "yes"}}), ConfigError);
}

}  // namespace
}  // namespace runnel
