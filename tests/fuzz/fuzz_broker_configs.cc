// The stored dynamic broker configs (DATA/meta/broker-configs.json on a single
// node, etcd's `broker-configs` key in a cluster): decoding arbitrary text
// gives the configs or std::invalid_argument, never a crash; what decodes
// re-encodes to text that decodes the same; resolving the topic defaults
// from it gives a LogConfig or ConfigError; the connection quotas it holds
// (max.connections.per.ip.overrides is parsed from it) resolve without
// throwing, and every change between it and nothing validates or throws
// ConfigError; its client quotas describe and resolve without a crash; each
// group's configs validate or throw ConfigError, and give timings >= 1.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "config/client_quota_config.h"
#include "config/connection_quota_config.h"
#include "config/dynamic_broker_config.h"
#include "config/dynamic_cleaner_config.h"
#include "config/dynamic_txn_config.h"
#include "config/group_config.h"

using namespace runnel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  DynamicBrokerConfigs configs;
  try {
    configs = decode_dynamic_broker_configs(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (decode_dynamic_broker_configs(encode_dynamic_broker_configs(configs)) != configs) __builtin_trap();
  int32_t node = configs.per_broker.empty() ? 0 : configs.per_broker.begin()->first;
  try {
    (void)effective_topic_defaults(storage::LogConfig{}, configs, node);
  } catch (const ConfigError&) {
  }
  for (const auto& key : dynamic_broker_keys())
    if (broker_key_levels(key, storage::LogConfig{}, configs, node).empty()) __builtin_trap();
  (void)effective_cleaner_settings(CleanerSettings{}, configs, node);
  (void)effective_txn_verification(true, configs, node);
  if (txn_verification_levels(true, configs, node).empty()) __builtin_trap();
  for (const auto& key : dynamic_cleaner_keys())
    if (cleaner_key_levels(key, CleanerSettings{}, configs, node).empty()) __builtin_trap();
  (void)effective_connection_quotas({}, configs, node);
  for (const auto& key : connection_quota_keys({}, configs, node))
    if (connection_quota_key_levels(key, {}, configs, node).empty()) __builtin_trap();
  for (const auto& [k, v] : configs.cluster_default) {
    try {
      if (is_connection_quota_key(k)) validate_connection_quota_value(k, v);
    } catch (const ConfigError&) {
    }
  }
  try {
    validate_connection_quota_change({}, DynamicBrokerConfigs{}, configs, node);
  } catch (const ConfigError&) {
  }
  try {
    validate_cleaner_change(CleanerSettings{}, DynamicBrokerConfigs{}, configs, node);
  } catch (const ConfigError&) {
  }
  for (const auto& [group, values] : configs.group_configs) {
    try {
      validate_group_configs(values, GroupConfigBounds{});
    } catch (const ConfigError&) {
    }
    auto t = group_timeouts(values, GroupConfigBounds{});
    if (t.session_timeout_ms < 1 || t.heartbeat_interval_ms < 1) __builtin_trap();
  }
  // The client quotas it holds: an empty filter describes them all; every
  // lookup resolves without throwing.
  ClientQuotas described;
  if (!describe_client_quotas(configs.client_quotas, {}, false, &described).ok() || described != configs.client_quotas)
    __builtin_trap();
  for (const auto& [entity, values] : configs.client_quotas) {
    auto user = entity.parts.find("user");
    auto client = entity.parts.find("client-id");
    const std::string u = user != entity.parts.end() && user->second ? *user->second : "u";
    const std::string c = client != entity.parts.end() && client->second ? *client->second : "c";
    for (const auto& [key, value] : values)
      if (auto r = resolve_client_quota(configs.client_quotas, key, u, c); r && !(r->limit > 0)) __builtin_trap();
  }
  std::optional<int32_t> default_ip_rate;
  for (const auto& [ip, rate] : ip_connection_rates(configs.client_quotas, &default_ip_rate))
    if (rate <= 0) __builtin_trap();
  return 0;
}
