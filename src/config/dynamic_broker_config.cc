#include "config/dynamic_broker_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "config/connection_quota_config.h"
#include "config/dynamic_cleaner_config.h"
#include "config/dynamic_throttle_config.h"
#include "config/dynamic_txn_config.h"
#include "config/topic_config.h"

namespace runnel {

const char* config_source_name(int8_t source) {
  switch (source) {
    case 1:
      return "DYNAMIC_TOPIC_CONFIG";
    case 2:
      return "DYNAMIC_BROKER_CONFIG";
    case 3:
      return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
      return "STATIC_BROKER_CONFIG";
    case 5:
      return "DEFAULT_CONFIG";
    case 6:
      return "DYNAMIC_BROKER_LOGGER_CONFIG";
    case 7:
      return "DYNAMIC_CLIENT_METRICS_CONFIG";
    case 8:
      return "DYNAMIC_GROUP_CONFIG";
    default:
      return "UNKNOWN";
  }
}
namespace {

std::vector<DynamicBrokerKey> make_dynamic_keys() {
  // Kafka makes the primary broker synonym of every topic config dynamic
  // (DynamicLogConfig.ReconfigurableConfigs: log.retention.ms, while
  // log.retention.minutes and .hours are static only); runnel those of the
  // configs it acts on.
  std::vector<DynamicBrokerKey> keys;
  for (const auto& info : topic_config_infos())
    if (info.not_acted_on.empty() && !info.synonyms.empty()) keys.push_back({info.synonyms.front(), info.name});
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.broker_key < b.broker_key; });
  return keys;
}

// The value of topic config `topic_key` under `config`.
std::string topic_value(const storage::LogConfig& config, const std::string& topic_key) {
  for (auto& [name, value] : topic_config_defaults(config))
    if (name == topic_key) return value;
  return "";
}

// Broker keys to topic keys, for topic_log_config(). Throws ConfigError for
// a key that is not dynamic.
ConfigMap as_topic_overrides(const ConfigMap& broker_configs) {
  ConfigMap out;
  for (const auto& [k, v] : broker_configs) {
    // Not topic defaults: config/dynamic_cleaner_config.h, config/connection_quota_config.h,
    // config/dynamic_txn_config.h, config/dynamic_throttle_config.h.
    if (find_dynamic_cleaner_key(k) || is_connection_quota_key(k) || is_dynamic_txn_key(k) ||
        is_replication_throttle_key(k))
      continue;
    const auto* key = find_dynamic_broker_key(k);
    if (!key) throw ConfigError(fmt::format("Cannot update these configs dynamically: Set({})", k));
    out[key->topic_key] = v;
  }
  return out;
}

ConfigMap decode_map(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("broker configs: not an object");
  ConfigMap out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) throw std::invalid_argument("broker configs: value of " + k + " is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

const ConfigMap& DynamicBrokerConfigs::of(int32_t node_id) const {
  static const ConfigMap kNone;
  auto it = per_broker.find(node_id);
  return it == per_broker.end() ? kNone : it->second;
}

const std::vector<DynamicBrokerKey>& dynamic_broker_keys() {
  static const std::vector<DynamicBrokerKey> keys = make_dynamic_keys();
  return keys;
}

const DynamicBrokerKey* find_dynamic_broker_key(std::string_view broker_key) {
  const auto& keys = dynamic_broker_keys();
  auto it = std::lower_bound(keys.begin(), keys.end(), broker_key,
                             [](const auto& k, std::string_view name) { return k.broker_key < name; });
  return it != keys.end() && it->broker_key == broker_key ? &*it : nullptr;
}

void validate_dynamic_broker_configs(const ConfigMap& configs) {
  (void)topic_log_config(storage::LogConfig{}, as_topic_overrides(configs));
  for (const auto& [k, v] : configs) {
    if (find_dynamic_cleaner_key(k)) validate_cleaner_value(k, v);
    if (is_connection_quota_key(k)) validate_connection_quota_value(k, v);
    if (is_dynamic_txn_key(k)) validate_txn_value(k, v);
    if (is_replication_throttle_key(k)) validate_throttle_value(k, v);
  }
}

storage::LogConfig effective_topic_defaults(const storage::LogConfig& static_defaults,
                                            const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  auto with_default = topic_log_config(static_defaults, as_topic_overrides(dynamic.cluster_default));
  return topic_log_config(with_default, as_topic_overrides(dynamic.of(node_id)));
}

std::vector<ConfigLevel> config_levels(const std::string& key, const DynamicBrokerConfigs& dynamic, int32_t node_id,
                                       const std::string& static_value, const std::string& kafka_default) {
  std::vector<ConfigLevel> levels;
  const auto& own = dynamic.of(node_id);
  if (auto it = own.find(key); it != own.end()) levels.push_back({key, it->second, ConfigSource::kDynamicBroker});
  if (auto it = dynamic.cluster_default.find(key); it != dynamic.cluster_default.end())
    levels.push_back({key, it->second, ConfigSource::kDynamicDefaultBroker});
  // The static setting is known only by its value: one that differs from
  // Kafka's default was set in the file or with --set.
  if (static_value != kafka_default) levels.push_back({key, static_value, ConfigSource::kStaticBroker});
  levels.push_back({key, kafka_default, ConfigSource::kDefault});
  return levels;
}

std::vector<ConfigLevel> broker_key_levels(const DynamicBrokerKey& key, const storage::LogConfig& static_defaults,
                                           const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  return config_levels(key.broker_key, dynamic, node_id, topic_value(static_defaults, key.topic_key),
                       topic_value(storage::LogConfig{}, key.topic_key));
}

std::string encode_dynamic_broker_configs(const DynamicBrokerConfigs& configs) {
  nlohmann::json brokers = nlohmann::json::object();
  for (const auto& [id, values] : configs.per_broker)
    if (!values.empty()) brokers[std::to_string(id)] = values;
  nlohmann::json doc = {{"version", 1}, {"default", configs.cluster_default}, {"brokers", brokers}};
  if (configs.cluster_default.empty()) doc["default"] = nlohmann::json::object();
  if (!configs.client_quotas.empty()) doc["client_quotas"] = client_quotas_to_json(configs.client_quotas);
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [group, values] : configs.group_configs)
    if (!values.empty()) groups[group] = values;
  if (!groups.empty()) doc["groups"] = groups;
  return doc.dump(2) + "\n";
}

DynamicBrokerConfigs decode_dynamic_broker_configs(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("broker configs: ") + e.what());
  }
  if (!doc.is_object()) throw std::invalid_argument("broker configs: not an object");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != 1)
    throw std::invalid_argument("broker configs: unsupported version");
  DynamicBrokerConfigs out;
  if (auto d = doc.find("default"); d != doc.end()) out.cluster_default = decode_map(*d);
  if (auto b = doc.find("brokers"); b != doc.end()) {
    if (!b->is_object()) throw std::invalid_argument("broker configs: brokers is not an object");
    for (const auto& [id, values] : b->items()) {
      int32_t node = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), node);
      if (ec != std::errc() || end != id.data() + id.size() || node < 0)
        throw std::invalid_argument("broker configs: bad node id " + id);
      auto map = decode_map(values);
      if (!map.empty()) out.per_broker[node] = std::move(map);
    }
  }
  if (auto q = doc.find("client_quotas"); q != doc.end()) out.client_quotas = client_quotas_from_json(*q);
  if (auto g = doc.find("groups"); g != doc.end()) {
    if (!g->is_object()) throw std::invalid_argument("broker configs: groups is not an object");
    for (const auto& [group, values] : g->items()) {
      auto map = decode_map(values);
      if (!map.empty()) out.group_configs[group] = std::move(map);
    }
  }
  return out;
}

}  // namespace runnel
