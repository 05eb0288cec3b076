// Client quotas (config/client_quota_config.h): Kafka's order of precedence
// and which clients share a quota, Kafka's checks of an alteration, the
// DescribeClientQuotas filter, and the JSON form inside the dynamic broker
// config document.
#include "config/client_quota_config.h"

#include <gtest/gtest.h>

#include <limits>

#include "config/dynamic_broker_config.h"

namespace runnel {
namespace {

const std::optional<std::string> kDefault;

ClientQuotaEntity entity(std::initializer_list<std::pair<const std::string, std::optional<std::string>>> parts) {
  return ClientQuotaEntity{parts};
}

TEST(ClientQuotaConfig, MostSpecificLevelWinsInKafkasOrder) {
  ClientQuotas q;
  q[entity({{"client-id", kDefault}})]["producer_byte_rate"] = 8;
  q[entity({{"client-id", "c"}})]["producer_byte_rate"] = 7;
  q[entity({{"user", kDefault}})]["producer_byte_rate"] = 6;
  q[entity({{"user", kDefault}, {"client-id", kDefault}})]["producer_byte_rate"] = 5;
  q[entity({{"user", kDefault}, {"client-id", "c"}})]["producer_byte_rate"] = 4;
  q[entity({{"user", "u"}})]["producer_byte_rate"] = 3;
  q[entity({{"user", "u"}, {"client-id", kDefault}})]["producer_byte_rate"] = 2;
  q[entity({{"user", "u"}, {"client-id", "c"}})]["producer_byte_rate"] = 1;
  // Peel the levels off one by one, most specific first.
  const std::vector<ClientQuotaEntity> order = {
      entity({{"user", "u"}, {"client-id", "c"}}),
      entity({{"user", "u"}, {"client-id", kDefault}}),
      entity({{"user", "u"}}),
      entity({{"user", kDefault}, {"client-id", "c"}}),
      entity({{"user", kDefault}, {"client-id", kDefault}}),
      entity({{"user", kDefault}}),
      entity({{"client-id", "c"}}),
      entity({{"client-id", kDefault}}),
  };
  // Who shares each level's quota: (user, client-id) as Kafka's metric tags.
  const std::vector<std::pair<std::string, std::string>> groups = {{"u", "c"}, {"u", "c"}, {"u", ""}, {"u", "c"},
                                                                   {"u", "c"}, {"u", ""},  {"", "c"}, {"", "c"}};
  for (size_t i = 0; i < order.size(); ++i) {
    auto r = resolve_client_quota(q, "producer_byte_rate", "u", "c");
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->limit, static_cast<double>(i + 1));
    EXPECT_EQ(r->user, groups[i].first) << i;
    EXPECT_EQ(r->client_id, groups[i].second) << i;
    q.erase(order[i]);
  }
  EXPECT_FALSE(resolve_client_quota(q, "producer_byte_rate", "u", "c").has_value());
}

TEST(ClientQuotaConfig, KeysAreSeparate) {
  ClientQuotas q;
  q[entity({{"user", "u"}})]["consumer_byte_rate"] = 100;
  q[entity({{"client-id", "c"}})]["producer_byte_rate"] = 50;
  EXPECT_EQ(resolve_client_quota(q, "producer_byte_rate", "u", "c")->limit, 50);
  EXPECT_EQ(resolve_client_quota(q, "consumer_byte_rate", "u", "c")->limit, 100);
  EXPECT_FALSE(resolve_client_quota(q, "consumer_byte_rate", "v", "c").has_value());
  EXPECT_TRUE(any_client_quota(q, "producer_byte_rate"));
  q[entity({{"ip", "1.2.3.4"}})]["connection_creation_rate"] = 3;
  EXPECT_FALSE(any_client_quota(q, "connection_creation_rate"));  // an ip quota is not a client's
}

ClientQuotaError check(ClientQuotaAlteration a) {
  ClientQuotaEntity e;
  return validate_client_quota_alteration(a, &e);
}

TEST(ClientQuotaConfig, AlterationsCheckedAsKafka) {
  EXPECT_TRUE(check({{{"user", "u"}}, {{"producer_byte_rate", 1024.0}}}).ok());
  EXPECT_TRUE(check({{{"user", kDefault}, {"client-id", "c"}}, {{"consumer_byte_rate", std::nullopt}}}).ok());
  EXPECT_TRUE(check({{{"ip", "127.0.0.1"}}, {{"connection_creation_rate", 5.0}}}).ok());
  EXPECT_TRUE(check({{{"ip", kDefault}}, {{"connection_creation_rate", 5.0}}}).ok());
  // A removal of any key is not checked (Kafka: only values are).
  EXPECT_TRUE(check({{{"user", "u"}}, {{"whatever", std::nullopt}}}).ok());
  struct Case {
    ClientQuotaAlteration a;
    std::string message;
  };
  const std::vector<Case> bad = {
      {{{}, {{"producer_byte_rate", 1.0}}}, "Invalid empty client quota entity"},
      {{{{"user", "u"}, {"user", "v"}}, {}}, "duplicate entity entry user"},
      {{{{"topic", "t"}}, {}}, "Unhandled client quota entity type: topic"},
      {{{{"ip", "1.2.3.4"}, {"client-id", "c"}}, {}}, "IP entity should not be combined"},
      {{{{"user", "u"}}, {{"producer_byte_rate", 1.0}, {"producer_byte_rate", 2.0}}}, "Duplicate quota key"},
      {{{{"user", "u"}}, {{"producer_byte_rate", -1.0}}}, "Quota producer_byte_rate must be greater than 0"},
      {{{{"user", "u"}}, {{"producer_byte_rate", 0.5}}}, "producer_byte_rate cannot be a fractional value."},
      {{{{"user", "u"}}, {{"producer_byte_rate", 1e19}}}, "too large for a LONG"},
      {{{{"ip", "1.2.3.4"}}, {{"connection_creation_rate", 3e9}}}, "too large for an INT"},
      {{{{"ip", "1.2.3.4"}}, {{"producer_byte_rate", 1.0}}}, "Invalid configuration key producer_byte_rate"},
      {{{{"user", "u"}}, {{"connection_creation_rate", 1.0}}}, "Invalid configuration key connection_creation_rate"},
      {{{{"user", "u"}}, {{"request_percentage", 50.0}}}, "does not enforce request_percentage"},
      {{{{"user", "u"}}, {{"controller_mutation_rate", std::numeric_limits<double>::infinity()}}},
       "must be a finite number"},
  };
  for (const auto& c : bad) {
    auto e = check(c.a);
    EXPECT_EQ(e.code, ErrorCode::INVALID_REQUEST) << c.message;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
  }
}

TEST(ClientQuotaConfig, ApplySetsRemovesAndDropsEmptyEntities) {
  ClientQuotas q;
  const auto alice = entity({{"user", "alice"}});
  apply_client_quota_alteration(q, alice, {{{"user", "alice"}}, {{"producer_byte_rate", 10.0}}});
  apply_client_quota_alteration(q, alice, {{{"user", "alice"}}, {{"consumer_byte_rate", 20.0}}});
  EXPECT_EQ(q[alice].size(), 2u);
  apply_client_quota_alteration(
      q, alice, {{{"user", "alice"}}, {{"producer_byte_rate", std::nullopt}, {"consumer_byte_rate", std::nullopt}}});
  EXPECT_TRUE(q.empty());
}

TEST(ClientQuotaConfig, DescribeFilters) {
  ClientQuotas q;
  q[entity({{"user", "u"}})]["producer_byte_rate"] = 1;
  q[entity({{"user", "u"}, {"client-id", "c"}})]["producer_byte_rate"] = 2;
  q[entity({{"user", kDefault}})]["producer_byte_rate"] = 3;
  q[entity({{"ip", "1.2.3.4"}})]["connection_creation_rate"] = 4;
  auto run = [&](std::vector<ClientQuotaFilterComponent> c, bool strict) {
    ClientQuotas out;
    EXPECT_TRUE(describe_client_quotas(q, c, strict, &out).ok());
    return out.size();
  };
  EXPECT_EQ(run({}, false), 4u);
  EXPECT_EQ(run({}, true), 0u);
  EXPECT_EQ(run({{"user", 0, "u"}}, false), 2u);
  EXPECT_EQ(run({{"user", 0, "u"}}, true), 1u);
  EXPECT_EQ(run({{"user", 1, std::nullopt}}, false), 1u);
  EXPECT_EQ(run({{"user", 2, std::nullopt}}, false), 3u);
  EXPECT_EQ(run({{"user", 2, std::nullopt}, {"client-id", 2, std::nullopt}}, true), 1u);
  EXPECT_EQ(run({{"ip", 2, std::nullopt}}, false), 1u);
  ClientQuotas out;
  EXPECT_EQ(describe_client_quotas(q, {{"ip", 2, std::nullopt}, {"user", 2, std::nullopt}}, false, &out).code,
            ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(describe_client_quotas(q, {{"foo", 2, std::nullopt}}, false, &out).code, ErrorCode::UNSUPPORTED_VERSION);
  EXPECT_EQ(describe_client_quotas(q, {{"user", 7, std::nullopt}}, false, &out).code, ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(describe_client_quotas(q, {{"", 2, std::nullopt}}, false, &out).code, ErrorCode::INVALID_REQUEST);
}

TEST(ClientQuotaConfig, KeptInTheDynamicConfigDocument) {
  DynamicBrokerConfigs configs;
  configs.cluster_default["log.retention.ms"] = "1000";
  configs.client_quotas[entity({{"user", "u"}, {"client-id", kDefault}})]["producer_byte_rate"] = 1024;
  configs.client_quotas[entity({{"ip", kDefault}})]["connection_creation_rate"] = 7;
  auto text = encode_dynamic_broker_configs(configs);
  EXPECT_EQ(decode_dynamic_broker_configs(text), configs);
  // A document written before client quotas existed has none.
  EXPECT_TRUE(decode_dynamic_broker_configs(R"({"version":1,"default":{}})").client_quotas.empty());
  EXPECT_THROW(decode_dynamic_broker_configs(R"({"version":1,"client_quotas":{}})"), std::invalid_argument);
  EXPECT_THROW(decode_dynamic_broker_configs(R"({"version":1,"client_quotas":[{"entity":{"user":1},"values":{}}]})"),
               std::invalid_argument);
  std::optional<int32_t> default_rate;
  auto rates = ip_connection_rates(configs.client_quotas, &default_rate);
  EXPECT_TRUE(rates.empty());
  EXPECT_EQ(default_rate, 7);
}

}  // namespace
}  // namespace runnel
