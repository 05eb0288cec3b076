// Connection quota keys: which keys they are, Kafka's validation and
// messages, the precedence of the levels and what DescribeConfigs lists.
#include "config/connection_quota_config.h"

#include <gtest/gtest.h>

#include "config/config_error.h"

namespace runnel {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConnectionQuotaConfig, Keys) {
  for (const char* k : {"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
                        "listener.name.internal.max.connections", "listener.name.SSL.max.connections",
                        "max.connection.creation.rate", "listener.name.internal.max.connection.creation.rate"})
    EXPECT_TRUE(is_connection_quota_key(k)) << k;
  for (const char* k :
       {"listener.name..max.connections", "listener.name.a.b.max.connections", "listener.name.x.ssl.keystore.location",
        "max.connections.per", "listener.name..max.connection.creation.rate", "max.connection.creation"})
    EXPECT_FALSE(is_connection_quota_key(k)) << k;
  EXPECT_EQ(connection_quota_key_type("max.connections.per.ip.overrides"), 2);
  EXPECT_EQ(connection_quota_key_type("max.connections"), 3);
  EXPECT_EQ(connection_quota_key_type("max.connection.creation.rate"), 3);
}

TEST(ConnectionQuotaConfig, ValuesAsKafkaValidatesThem) {
  EXPECT_NO_THROW(validate_connection_quota_value("max.connections", "0"));
  EXPECT_EQ(error_of([] { validate_connection_quota_value("max.connections", "-1"); }),
            "Invalid value -1 for configuration max.connections: Value must be at least 0");
  EXPECT_EQ(error_of([] { validate_connection_quota_value("max.connections.per.ip", "many"); }),
            "Invalid value many for configuration max.connections.per.ip: Not a number of type INT");
  EXPECT_EQ(error_of([] { validate_connection_quota_value("max.connections", "2147483648"); }),
            "Invalid value 2147483648 for configuration max.connections: Not a number of type INT");
  auto o = parse_per_ip_overrides(" 127.0.0.1:5 , ::1:7,host-a.example:0");
  EXPECT_EQ(o, (std::map<std::string, int32_t>{{"127.0.0.1", 5}, {"::1", 7}, {"host-a.example", 0}}));
  EXPECT_TRUE(parse_per_ip_overrides("").empty());
  EXPECT_NE(error_of([] { parse_per_ip_overrides("127.0.0.1"); }), "");
  EXPECT_NE(error_of([] { parse_per_ip_overrides("127.0.0.1:x"); }), "");
  EXPECT_EQ(error_of([] { parse_per_ip_overrides("bad/host:1"); }),
            "max.connections.per.ip.overrides contains invalid addresses : bad/host");
}

TEST(ConnectionQuotaConfig, ZeroPerIpNeedsOverrides) {
  auto s = apply_connection_quota_values({}, {{"max.connections.per.ip", "0"}});
  EXPECT_EQ(error_of([&] { validate_connection_quota_settings(s); }),
            "requirement failed: max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides "
            "property is set.");
  s = apply_connection_quota_values(s, {{"max.connections.per.ip.overrides", "127.0.0.1:10"}});
  EXPECT_NO_THROW(validate_connection_quota_settings(s));
}

TEST(ConnectionQuotaConfig, PrecedenceAndListenerDefault) {
  ConfigMap statics = {{"max.connections", "100"}, {"listener.name.internal.max.connections", "7"}};
  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"max.connections", "50"}, {"max.connections.per.ip", "9"}};
  dynamic.per_broker[1] = {{"max.connections.per.ip", "3"}, {"listener.name.internal.max.connections", "bad"}};
  auto s = effective_connection_quotas(statics, dynamic, 1);
  EXPECT_EQ(s.max_connections, 50);
  EXPECT_EQ(s.max_connections_per_ip, 3);
  EXPECT_EQ(s.listener_max_connections("INTERNAL"), 7);  // the bad dynamic value is skipped
  EXPECT_EQ(s.listener_max_connections("PLAINTEXT"), 50);
  EXPECT_EQ(effective_connection_quotas(statics, dynamic, 2).max_connections_per_ip, 9);

  auto levels = connection_quota_key_levels("max.connections.per.ip", statics, dynamic, 1);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[0].value, "3");
  EXPECT_EQ(levels[0].source, ConfigSource::kDynamicBroker);
  EXPECT_EQ(levels[1].source, ConfigSource::kDynamicDefaultBroker);
  EXPECT_EQ(levels[2].value, "2147483647");
  EXPECT_EQ(levels[2].source, ConfigSource::kDefault);
  // A listener key: its own levels, then max.connections' as its synonym.
  levels = connection_quota_key_levels("listener.name.internal.max.connections", statics, dynamic, 2);
  ASSERT_EQ(levels.size(), 4u);
  EXPECT_EQ(levels[0].name, "listener.name.internal.max.connections");
  EXPECT_EQ(levels[0].source, ConfigSource::kStaticBroker);
  EXPECT_EQ(levels[1].name, "max.connections");
  EXPECT_EQ(levels[1].source, ConfigSource::kDynamicDefaultBroker);
  EXPECT_EQ(levels[2].source, ConfigSource::kStaticBroker);
  EXPECT_EQ(levels[3].source, ConfigSource::kDefault);
  auto keys = connection_quota_keys(statics, dynamic, 1);
  EXPECT_EQ(keys, (std::vector<std::string>{"listener.name.internal.max.connections", "max.connection.creation.rate",
                                            "max.connections", "max.connections.per.ip",
                                            "max.connections.per.ip.overrides"}));
}

// KIP-612's keys: a listener's rate defaults to the broker-wide one, and a
// listener key lists the broker-wide key as its synonym.
TEST(ConnectionQuotaConfig, CreationRates) {
  ConfigMap statics = {{"max.connection.creation.rate", "20"}};
  DynamicBrokerConfigs dynamic;
  dynamic.per_broker[1] = {{"listener.name.external.max.connection.creation.rate", "5"}};
  auto s = effective_connection_quotas(statics, dynamic, 1);
  EXPECT_EQ(s.max_connection_creation_rate, 20);
  EXPECT_EQ(s.listener_connection_creation_rate("EXTERNAL"), 5);
  EXPECT_EQ(s.listener_connection_creation_rate("internal"), 20);
  EXPECT_EQ(ConnectionQuotaSettings{}.listener_connection_creation_rate("x"), 2147483647);
  EXPECT_EQ(error_of([] { validate_connection_quota_value("max.connection.creation.rate", "-2"); }),
            "Invalid value -2 for configuration max.connection.creation.rate: Value must be at least 0");
  auto levels = connection_quota_key_levels("listener.name.external.max.connection.creation.rate", statics, dynamic, 1);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[0].source, ConfigSource::kDynamicBroker);
  EXPECT_EQ(levels[1].name, "max.connection.creation.rate");
  EXPECT_EQ(levels[1].source, ConfigSource::kStaticBroker);
  EXPECT_EQ(levels[2].source, ConfigSource::kDefault);
  auto keys = connection_quota_keys(statics, dynamic, 1);
  EXPECT_EQ(keys.front(), "listener.name.external.max.connection.creation.rate");
  // A dynamic change to 0 is refused, as Kafka's listener reconfiguration does.
  DynamicBrokerConfigs next;
  next.cluster_default = {{"max.connection.creation.rate", "0"}};
  EXPECT_EQ(error_of([&] { validate_connection_quota_change(statics, dynamic, next, 1); }),
            "Invalid max.connection.creation.rate 0");
  next.cluster_default.clear();
  next.per_broker[1] = {{"listener.name.external.max.connection.creation.rate", "0"}};
  EXPECT_EQ(error_of([&] { validate_connection_quota_change(statics, dynamic, next, 1); }),
            "Invalid max.connection.creation.rate 0");
}

TEST(ConnectionQuotaConfig, DynamicChangeRules) {
  ConfigMap statics;
  DynamicBrokerConfigs current, next;
  next.cluster_default = {{"max.connections", "0"}};
  EXPECT_EQ(error_of([&] { validate_connection_quota_change(statics, current, next, 0); }),
            "Invalid max.connections 0");
  next.cluster_default = {{"max.connections.per.ip", "0"}};
  EXPECT_NE(error_of([&] { validate_connection_quota_change(statics, current, next, 0); }), "");
  next.cluster_default["max.connections.per.ip.overrides"] = "127.0.0.1:2";
  EXPECT_NO_THROW(validate_connection_quota_change(statics, current, next, 0));
  next.per_broker[0] = {{"listener.name.plaintext.max.connections", "0"}};
  EXPECT_EQ(error_of([&] { validate_connection_quota_change(statics, current, next, 0); }),
            "Invalid max.connections 0");
  // Another broker's value does not concern this one.
  next.per_broker.clear();
  next.per_broker[3] = {{"max.connections", "0"}};
  next.cluster_default.clear();
  EXPECT_NO_THROW(validate_connection_quota_change(statics, current, next, 0));
}

}  // namespace
}  // namespace runnel
