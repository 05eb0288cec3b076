#include "kafka/handlers/group_configs.h"

#include <map>
#include <optional>

#include "config/dynamic_broker_config.h"
#include "config/group_config.h"
#include "config/list_config_op.h"
#include "config/topic_config.h"
#include "kafka/handlers/config_resources.h"

namespace runnel {
void describe_group_resource(Broker& broker, const protocol::DescribeConfigsRequest::DescribeConfigsResource& resource,
                             bool include_synonyms, bool include_documentation,
                             protocol::DescribeConfigsResponse::DescribeConfigsResult& result) {
  if (resource.resource_name.empty()) {
    result.error_code = code(ErrorCode::INVALID_REQUEST);
    result.error_message = "Group name must not be empty";
    return;
  }
  const auto dynamic = broker.dynamic_configs();
  const auto bounds = broker.config().group_config_bounds();
  const ConfigMap* own = nullptr;
  if (auto it = dynamic.group_configs.find(resource.resource_name); it != dynamic.group_configs.end())
    own = &it->second;
  for (const auto& info : group_config_infos()) {
    if (!config_resource::wants_key(resource, info.name)) continue;
    // Kafka's createGroupConfigEntry: the group's own value, then the
    // broker key it defaults to (static here: runnel's group.consumer.* keys
    // are not dynamic), then Kafka's default.
    std::vector<ConfigLevel> levels;
    if (own)
      if (auto v = own->find(info.name); v != own->end())
        levels.push_back({info.name, v->second, ConfigSource::kDynamicGroup});
    const std::string broker_value = std::to_string(group_config_broker_value(info, bounds));
    const std::string kafka_default = std::to_string(info.kafka_default);
    if (broker_value != kafka_default) levels.push_back({info.broker_key, broker_value, ConfigSource::kStaticBroker});
    levels.push_back({info.broker_key, kafka_default, ConfigSource::kDefault});
    auto& entry = result.configs.emplace_back();
    entry.name = info.name;
    entry.value = levels.front().value;
    entry.read_only = false;
    entry.is_default = levels.front().source == ConfigSource::kDefault;
    entry.config_source = static_cast<int8_t>(levels.front().source);
    entry.is_sensitive = false;
    entry.config_type = config_type::kInt;
    entry.documentation = std::nullopt;
    if (include_documentation) entry.documentation = info.documentation;
    if (include_synonyms)
      for (const auto& level : levels)
        entry.synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
  }
}

namespace {

// Why a change to a group's configs is refused (NONE: it is not).
struct Refusal {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
};

// Applies `changes` to `values` (a group's set, empty for AlterConfigs'
// replacement) and checks the result as Kafka does.
Refusal apply_group_changes(ConfigMap& values, const std::vector<BrokerConfigChange>& changes,
                            const GroupConfigBounds& bounds) {
  std::string nulls;
  for (const auto& c : changes) {
    const auto op = static_cast<AlterConfigOp>(c.op);
    if (op == AlterConfigOp::kDelete) {
      values.erase(c.name);
    } else if (op == AlterConfigOp::kSet) {
      if (c.value)
        values[c.name] = *c.value;
      else
        nulls += (nulls.empty() ? "" : ",") + c.name;
    } else if (op == AlterConfigOp::kAppend || op == AlterConfigOp::kSubtract) {
      return {ErrorCode::INVALID_CONFIG, not_a_list_message(op, c.name)};  // no group config is a list
    } else {
      return {ErrorCode::INVALID_REQUEST, "Unknown config operation " + std::to_string(c.op) + " for " + c.name};
    }
  }
  if (!nulls.empty()) return {ErrorCode::INVALID_CONFIG, "Null value not supported for group configs: " + nulls};
  try {
    validate_group_configs(values, bounds);
  } catch (const ConfigError& e) {
    return {ErrorCode::INVALID_CONFIG, e.what()};
  }
  return {};
}

ConfigMap current_group_configs(const DynamicBrokerConfigs& configs, const std::string& group) {
  auto it = configs.group_configs.find(group);
  return it == configs.group_configs.end() ? ConfigMap{} : it->second;
}

}  // namespace

asio::awaitable<std::pair<ErrorCode, std::string>> alter_group_resource(Broker& broker, const std::string& group,
                                                                        const std::vector<BrokerConfigChange>& changes,
                                                                        bool replace, bool validate_only) {
  if (group.empty())
    co_return std::pair{ErrorCode::INVALID_REQUEST, std::string("Default group resources are not allowed.")};
  const auto bounds = broker.config().group_config_bounds();
  // Checked on the set as it is now, for Kafka's error codes; applied again
  // to whatever is current when it is written, so that concurrent changes to
  // other keys are not lost (a refusal then, after a concurrent change, is
  // INVALID_REQUEST: update_dynamic_configs' answer to a ConfigError).
  ConfigMap values = replace ? ConfigMap{} : current_group_configs(broker.dynamic_configs(), group);
  if (auto refused = apply_group_changes(values, changes, bounds); refused.code != ErrorCode::NONE)
    co_return std::pair{refused.code, refused.message};
  if (validate_only) co_return std::pair{ErrorCode::NONE, std::string()};
  auto change = [&](const DynamicBrokerConfigs& current) {
    DynamicBrokerConfigs next = current;
    ConfigMap values = replace ? ConfigMap{} : current_group_configs(current, group);
    if (auto refused = apply_group_changes(values, changes, bounds); refused.code != ErrorCode::NONE)
      throw ConfigError(refused.message);
    if (values.empty())
      next.group_configs.erase(group);
    else
      next.group_configs[group] = std::move(values);
    return next;
  };
  std::string message;
  auto error = co_await broker.update_dynamic_configs(change, &message);
  co_return std::pair{error, message};
}

}  // namespace runnel
