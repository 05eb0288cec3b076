#include "kafka/handlers/broker_configs.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

#include "config/connection_quota_config.h"
#include "config/dynamic_broker_config.h"
#include "config/dynamic_cleaner_config.h"
#include "config/dynamic_throttle_config.h"
#include "config/dynamic_txn_config.h"
#include "config/list_config_op.h"
#include "config/topic_config.h"
#include "kafka/handlers/config_resources.h"

namespace runnel {
namespace {

constexpr int8_t kStringType = config_type::kString, kIntType = config_type::kInt, kBooleanType = config_type::kBoolean,
                 kListType = config_type::kList, kLongType = config_type::kLong;

struct StaticBrokerKey {
  std::string name;
  std::string value;
  int8_t type;
};

// The broker keys that are not dynamic and that DescribeConfigs reports
// (read-only, as the config file or --set left them).
std::vector<StaticBrokerKey> static_broker_keys(const BrokerConfig& c) {
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  return {
      {"auto.create.topics.enable", flag(c.auto_create_topics), kBooleanType},
      {"broker.id", std::to_string(c.node_id), kIntType},
      {"connections.max.idle.ms", std::to_string(c.connections_max_idle_ms), kLongType},
      // Clients read it to know whether sessions expire (librdkafka's 0142).
      {"connections.max.reauth.ms", std::to_string(c.connections_max_reauth_ms), kLongType},
      {"default.replication.factor", std::to_string(c.default_replication_factor), kIntType},
      {"delete.topic.enable", flag(c.delete_topic_enable), kBooleanType},
      {"log.dirs", fmt::format("{}", fmt::join(c.log_dirs(), ",")), kListType},
      {"num.partitions", std::to_string(c.num_partitions), kIntType},
      {"queued.max.request.bytes", std::to_string(c.queued_max_request_bytes), kLongType},
      {"socket.request.max.bytes", std::to_string(c.socket_request_max_bytes), kIntType},
  };
}

// The dynamic broker keys that hold one value of their own (neither topic
// defaults, nor the log cleaner's, nor connection quotas), in Kafka's order.
const std::vector<std::string_view>& scalar_keys() {
  static const std::vector<std::string_view> keys = {kFollowerThrottleRateKey, kLeaderThrottleRateKey,
                                                     kAlterLogDirsRateKey, kTxnVerificationKey};
  return keys;
}

bool is_scalar_key(std::string_view name) { return is_dynamic_txn_key(name) || is_replication_throttle_key(name); }

// A scalar key's levels (most specific first) and its type.
std::pair<std::vector<ConfigLevel>, int8_t> scalar_key_levels(std::string_view name, const BrokerConfig& config,
                                                              const DynamicBrokerConfigs& dynamic) {
  if (is_dynamic_txn_key(name))
    return {txn_verification_levels(config.transaction_partition_verification_enable, dynamic, config.node_id),
            kBooleanType};
  return {throttle_rate_levels(name, dynamic, config.node_id), kLongType};
}

// Which scope a resource name is: "" the cluster default (nullopt), else this
// broker's id. INVALID_REQUEST with Kafka's message for anything else.
std::optional<int32_t> scope_of(const std::string& name, int32_t node_id, bool describe, std::string* error) {
  if (name.empty()) return std::nullopt;
  int32_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size()) {
    *error = describe ? "Broker id must be an integer, but it is: " + name
                      : "Node id must be an integer, but it is: " + name;
    return std::nullopt;
  }
  if (id != node_id) {
    *error = describe ? "Unexpected broker id, expected " + std::to_string(node_id) +
                            " or empty string, but received " + name
                      : "Unexpected broker id, expected " + std::to_string(node_id) + ", but received " + name;
    return std::nullopt;
  }
  return id;
}

}  // namespace

void describe_broker_resource(Broker& broker, const protocol::DescribeConfigsRequest::DescribeConfigsResource& resource,
                              bool include_synonyms, bool include_documentation,
                              protocol::DescribeConfigsResponse::DescribeConfigsResult& result) {
  const auto& config = broker.config();
  std::string error;
  auto scope = scope_of(resource.resource_name, config.node_id, true, &error);
  if (!error.empty()) {
    result.error_code = code(ErrorCode::INVALID_REQUEST);
    result.error_message = error;
    return;
  }
  auto dynamic = broker.dynamic_configs();
  auto add = [&](const std::string& name, const std::string& value, ConfigSource source, bool read_only,
                 int8_t type) -> protocol::DescribeConfigsResponse::DescribeConfigsResourceResult* {
    if (!config_resource::wants_key(resource, name)) return nullptr;
    auto& entry = result.configs.emplace_back();
    entry.name = name;
    entry.value = value;
    entry.read_only = read_only;
    entry.is_default = source == ConfigSource::kDefault;
    entry.config_source = static_cast<int8_t>(source);
    entry.is_sensitive = false;
    entry.config_type = type;
    entry.documentation = std::nullopt;
    return &entry;
  };
  if (!scope) {
    // The cluster-wide default: only what is set there, as Kafka answers.
    for (const auto& [name, value] : dynamic.cluster_default) {
      if (is_connection_quota_key(name)) {
        auto* entry = add(name, value, ConfigSource::kDynamicDefaultBroker, false, connection_quota_key_type(name));
        if (!entry || !include_synonyms) continue;
        for (const auto& level :
             connection_quota_key_levels(name, config.connection_quota_static, dynamic, config.node_id))
          if (level.source != ConfigSource::kDynamicBroker)
            entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
        continue;
      }
      if (is_scalar_key(name)) {
        const auto [levels, type] = scalar_key_levels(name, config, dynamic);
        auto* entry = add(name, value, ConfigSource::kDynamicDefaultBroker, false, type);
        if (!entry || !include_synonyms) continue;
        for (const auto& level : levels)
          if (level.source != ConfigSource::kDynamicBroker)
            entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
        continue;
      }
      if (const auto* cleaner_key = find_dynamic_cleaner_key(name)) {
        auto* entry = add(name, value, ConfigSource::kDynamicDefaultBroker, false, cleaner_key->type);
        if (!entry || !include_synonyms) continue;
        for (const auto& level :
             cleaner_key_levels(*cleaner_key, static_cleaner_settings(config), dynamic, config.node_id))
          if (level.source != ConfigSource::kDynamicBroker)
            entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
        continue;
      }
      const auto* key = find_dynamic_broker_key(name);
      const auto* info = key ? find_topic_config_info(key->topic_key) : nullptr;
      auto* entry = add(name, value, ConfigSource::kDynamicDefaultBroker, false, info ? info->type : kStringType);
      if (!entry || !key) continue;
      if (include_documentation && info) entry->documentation = info->documentation;
      if (!include_synonyms) continue;
      for (const auto& level : broker_key_levels(*key, config.log, dynamic, config.node_id))
        if (level.source != ConfigSource::kDynamicBroker)
          entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
    }
    return;
  }
  for (const auto& key : static_broker_keys(config)) {
    auto* entry = add(key.name, key.value, ConfigSource::kStaticBroker, true, key.type);
    if (entry && include_synonyms) entry->synonyms.push_back({key.name, key.value, entry->config_source});
  }
  for (const auto& key : dynamic_broker_keys()) {
    auto levels = broker_key_levels(key, config.log, dynamic, config.node_id);
    const auto* info = find_topic_config_info(key.topic_key);
    auto* entry = add(key.broker_key, levels.front().value, levels.front().source, false, info ? info->type : 0);
    if (!entry) continue;
    if (include_documentation && info) entry->documentation = info->documentation;
    if (!include_synonyms) continue;
    for (const auto& level : levels)
      entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
  }
  for (const auto& key : dynamic_cleaner_keys()) {
    auto levels = cleaner_key_levels(key, static_cleaner_settings(config), dynamic, config.node_id);
    auto* entry = add(key.name, levels.front().value, levels.front().source, false, key.type);
    if (!entry || !include_synonyms) continue;
    for (const auto& level : levels)
      entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
  }
  for (auto name : scalar_keys()) {
    const auto [levels, type] = scalar_key_levels(name, config, dynamic);
    auto* entry = add(levels.front().name, levels.front().value, levels.front().source, false, type);
    if (entry && include_synonyms)
      for (const auto& level : levels)
        entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
  }
  for (const auto& name : connection_quota_keys(config.connection_quota_static, dynamic, config.node_id)) {
    auto levels = connection_quota_key_levels(name, config.connection_quota_static, dynamic, config.node_id);
    auto* entry = add(name, levels.front().value, levels.front().source, false, connection_quota_key_type(name));
    if (!entry || !include_synonyms) continue;
    for (const auto& level : levels)
      entry->synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
  }
}

asio::awaitable<std::pair<ErrorCode, std::string>> alter_broker_resource(Broker& broker,
                                                                         const std::string& resource_name,
                                                                         const std::vector<BrokerConfigChange>& changes,
                                                                         bool replace, bool validate_only) {
  const auto& config = broker.config();
  const int32_t node_id = config.node_id;
  std::string error;
  auto scope = scope_of(resource_name, node_id, false, &error);
  if (!error.empty()) co_return std::pair{ErrorCode::INVALID_REQUEST, error};
  // Kafka's order: keys that cannot change at run time first (the whole
  // request is refused), then values.
  std::set<std::string> static_keys, unknown_keys;
  for (const auto& c : changes) {
    if (find_dynamic_broker_key(c.name) || find_dynamic_cleaner_key(c.name) || is_connection_quota_key(c.name) ||
        is_scalar_key(c.name))
      continue;
    bool known = broker.is_known_config_key(c.name);
    for (const auto& s : static_broker_keys(broker.config())) known = known || s.name == c.name;
    (known ? static_keys : unknown_keys).insert(c.name);
  }
  auto set_text = [](const std::set<std::string>& keys) {
    std::string text;
    for (const auto& k : keys) text += (text.empty() ? "" : ", ") + k;
    return "Set(" + text + ")";
  };
  if (!static_keys.empty())
    co_return std::pair{ErrorCode::INVALID_REQUEST,
                        "Cannot update these configs dynamically: " + set_text(static_keys)};
  if (!unknown_keys.empty())
    co_return std::pair{ErrorCode::INVALID_CONFIG, "Unknown broker configs: " + set_text(unknown_keys)};
  for (const auto& c : changes) {
    auto op = static_cast<AlterConfigOp>(c.op);
    if (op != AlterConfigOp::kAppend && op != AlterConfigOp::kSubtract) continue;
    const auto* key = find_dynamic_broker_key(c.name);
    const auto* info = key ? find_topic_config_info(key->topic_key) : nullptr;
    if (!info || info->type != kListType)
      co_return std::pair{ErrorCode::INVALID_CONFIG, not_a_list_message(op, c.name)};
  }
  // The scope's new set, from whatever is current when it is written.
  auto change = [&](const DynamicBrokerConfigs& current) {
    DynamicBrokerConfigs next = current;
    ConfigMap& values = scope ? next.per_broker[*scope] : next.cluster_default;
    if (replace) values.clear();
    for (const auto& c : changes) {
      auto op = static_cast<AlterConfigOp>(c.op);
      if (op == AlterConfigOp::kAppend || op == AlterConfigOp::kSubtract) {
        auto it = values.find(c.name);
        auto current = it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
        values[c.name] = apply_list_op(
            op, current, kafka_topic_config_default(find_dynamic_broker_key(c.name)->topic_key), c.value.value_or(""));
      } else if (op == AlterConfigOp::kDelete || !c.value) {
        values.erase(c.name);
      } else {
        values[c.name] = *c.value;
      }
    }
    validate_dynamic_broker_configs(values);  // throws ConfigError
    if (scope && values.empty()) next.per_broker.erase(*scope);
    // Kafka's reconfigurables' own rules, on the change as a whole.
    validate_cleaner_change(static_cleaner_settings(config), current, next, node_id);
    validate_connection_quota_change(config.connection_quota_static, current, next, node_id);
    return next;
  };
  try {
    (void)change(broker.dynamic_configs());
  } catch (const ConfigError& e) {
    // Kafka 4 answers a broker config that fails validation with
    // INVALID_REQUEST (ConfigAdminManager; KAFKA-13609).
    co_return std::pair{ErrorCode::INVALID_REQUEST, std::string(e.what())};
  }
  if (validate_only) co_return std::pair{ErrorCode::NONE, std::string()};
  std::string message;
  auto result = co_await broker.update_dynamic_configs(change, &message);
  co_return std::pair{result, message};
}

}  // namespace runnel
