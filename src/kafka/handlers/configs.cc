// Topic, broker and group configuration: DescribeConfigs (32), AlterConfigs
// (33), IncrementalAlterConfigs (44). Topic configs use Kafka's names;
// changes are validated in full before any is applied and persist in the
// topic catalogue. BROKER resources: handlers/broker_configs.h; GROUP
// resources: handlers/group_configs.h.
#include "config/dynamic_broker_config.h"
#include "config/list_config_op.h"
#include "config/topic_config.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/broker_configs.h"
#include "kafka/handlers/config_resources.h"
#include "kafka/handlers/group_configs.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

constexpr int8_t kTopicResource = config_resource::kTopic;
constexpr int8_t kBrokerResource = config_resource::kBroker;
constexpr int8_t kGroupResource = config_resource::kGroup;

// ACLs as Kafka's: a topic's configs need DESCRIBE_CONFIGS / ALTER_CONFIGS on
// the topic (else TOPIC_AUTHORIZATION_FAILED), a group's on the group (else
// GROUP_AUTHORIZATION_FAILED), a broker's on the cluster (else
// CLUSTER_AUTHORIZATION_FAILED). NONE when allowed.
ErrorCode config_access_error(const RequestContext& ctx, int8_t resource_type, const std::string& name,
                              security::AclOperation op) {
  if (resource_type == kTopicResource)
    return authorized_topic(ctx, op, name) ? ErrorCode::NONE : ErrorCode::TOPIC_AUTHORIZATION_FAILED;
  if (resource_type == kGroupResource)
    return authorized_group(ctx, op, name) ? ErrorCode::NONE : ErrorCode::GROUP_AUTHORIZATION_FAILED;
  return authorized_cluster(ctx, op) ? ErrorCode::NONE : ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
}

}  // namespace

asio::awaitable<protocol::DescribeConfigsResponse> handle_describe_configs(RequestContext& ctx,
                                                                           protocol::DescribeConfigsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeConfigsResponse response;
  for (auto& resource : request.resources) {
    auto& result = response.results.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    if (auto denied = config_access_error(ctx, resource.resource_type, resource.resource_name,
                                          security::AclOperation::DescribeConfigs);
        denied != ErrorCode::NONE) {
      result.error_code = code(denied);
      continue;
    }
    if (resource.resource_type == kBrokerResource) {
      describe_broker_resource(broker, resource, request.include_synonyms, request.include_documentation, result);
    } else if (resource.resource_type == kGroupResource) {
      describe_group_resource(broker, resource, request.include_synonyms, request.include_documentation, result);
    } else if (resource.resource_type == kTopicResource) {
      auto info = broker.topics().find(resource.resource_name);
      if (!info) {
        result.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        result.error_message = "Topic " + resource.resource_name + " does not exist";
        continue;
      }
      // Where each value comes from, as Kafka reports it, most specific
      // first: the topic's own setting (an internal topic's forced ones count
      // as such, as Kafka creates __consumer_offsets with them), this
      // broker's dynamic setting, the cluster's dynamic default, the static
      // setting when it differs from Kafka's default, that default.
      const auto& infos = topic_config_infos();
      const auto& static_defaults = broker.config().log;
      auto dynamic = broker.dynamic_configs();
      auto kafka = topic_config_defaults(storage::LogConfig{});
      auto static_values = topic_config_defaults(static_defaults);
      auto broker_defaults = topic_config_defaults(broker.topics().defaults());
      auto effective = topic_config_defaults(info->log_config);
      for (size_t i = 0; i < infos.size(); ++i) {
        const auto& name = infos[i].name;
        if (!config_resource::wants_key(resource, name)) continue;
        std::vector<ConfigLevel> levels;
        if (auto it = info->overrides.find(name); it != info->overrides.end())
          levels.push_back({name, it->second, ConfigSource::kTopic});
        else if (effective[i].second != broker_defaults[i].second)
          levels.push_back({name, effective[i].second, ConfigSource::kTopic});
        const DynamicBrokerKey* key =
            infos[i].synonyms.empty() ? nullptr : find_dynamic_broker_key(infos[i].synonyms.front());
        if (key && key->topic_key == name) {
          for (auto& level : broker_key_levels(*key, static_defaults, dynamic, broker.config().node_id))
            levels.push_back(std::move(level));
        } else {
          const std::string broker_key = infos[i].synonyms.empty() ? name : infos[i].synonyms.front();
          if (static_values[i].second != kafka[i].second)
            levels.push_back({broker_key, static_values[i].second, ConfigSource::kStaticBroker});
          levels.push_back({broker_key, kafka[i].second, ConfigSource::kDefault});
        }
        auto& entry = result.configs.emplace_back();
        entry.name = name;
        entry.value = levels.front().value;
        entry.read_only = false;
        entry.is_default = levels.front().source == ConfigSource::kDefault;
        entry.config_source = static_cast<int8_t>(levels.front().source);
        entry.is_sensitive = false;
        entry.config_type = infos[i].type;
        entry.documentation = std::nullopt;  // unless asked for (v3+)
        if (request.include_documentation) entry.documentation = infos[i].documentation;
        if (!request.include_synonyms) continue;
        // A config with no broker key (remote.storage.enable) has no broker
        // levels: Kafka lists only the topic's own.
        for (const auto& level : levels) {
          if (infos[i].synonyms.empty() && level.source != ConfigSource::kTopic) continue;
          entry.synonyms.push_back({level.name, level.value, static_cast<int8_t>(level.source)});
        }
      }
    } else {
      result.error_code = code(ErrorCode::INVALID_REQUEST);
      result.error_message = "Unsupported resource type " + std::to_string(resource.resource_type);
    }
  }
  co_return response;
}

namespace {

// Validates and applies new overrides for one topic resource.
asio::awaitable<std::pair<ErrorCode, std::string>> alter_topic(Broker& broker, const std::string& topic,
                                                               const std::map<std::string, std::string>& overrides,
                                                               bool validate_only) {
  std::string message;
  for (const auto& [name, _] : overrides)
    if (!is_topic_config(name)) co_return std::pair{ErrorCode::INVALID_CONFIG, "Unknown topic config name: " + name};
  try {
    topic_log_config(broker.topics().defaults(), overrides);
  } catch (const ConfigError& e) {
    co_return std::pair{ErrorCode::INVALID_CONFIG, std::string(e.what())};
  }
  if (validate_only) co_return std::pair{ErrorCode::NONE, std::string()};
  auto error = co_await broker.set_topic_overrides(topic, overrides, &message);
  co_return std::pair{error, message};
}

// A BROKER or GROUP resource's change. (Not a ?: of two co_awaits: GCC 12
// destroys the result twice.)
asio::awaitable<std::pair<ErrorCode, std::string>> alter_broker_or_group(Broker& broker, int8_t resource_type,
                                                                         const std::string& name,
                                                                         const std::vector<BrokerConfigChange>& changes,
                                                                         bool replace, bool validate_only) {
  if (resource_type == kBrokerResource)
    co_return co_await alter_broker_resource(broker, name, changes, replace, validate_only);
  co_return co_await alter_group_resource(broker, name, changes, replace, validate_only);
}

}  // namespace

asio::awaitable<protocol::AlterConfigsResponse> handle_alter_configs(RequestContext& ctx,
                                                                     protocol::AlterConfigsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::AlterConfigsResponse response;
  for (auto& resource : request.resources) {
    auto& result = response.responses.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    if (auto denied = config_access_error(ctx, resource.resource_type, resource.resource_name,
                                          security::AclOperation::AlterConfigs);
        denied != ErrorCode::NONE) {
      result.error_code = code(denied);
      continue;
    }
    if (resource.resource_type == kBrokerResource || resource.resource_type == kGroupResource) {
      std::vector<BrokerConfigChange> changes;
      for (auto& c : resource.configs) changes.push_back({c.name, c.value, 0});
      auto [error, message] = co_await alter_broker_or_group(broker, resource.resource_type, resource.resource_name,
                                                             changes, /*replace=*/true, request.validate_only);
      result.error_code = code(error);
      result.error_message = message.empty() ? std::nullopt : std::optional<std::string>(message);
      continue;
    }
    if (resource.resource_type != kTopicResource) {
      result.error_code = code(ErrorCode::INVALID_REQUEST);
      result.error_message = "Only topic, broker and group configurations can be altered";
      continue;
    }
    if (!broker.topics().find(resource.resource_name)) {
      result.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    // AlterConfigs replaces the whole set of overrides.
    std::map<std::string, std::string> overrides;
    for (auto& c : resource.configs)
      if (c.value) overrides[c.name] = *c.value;
    auto [error, message] = co_await alter_topic(broker, resource.resource_name, overrides, request.validate_only);
    result.error_code = code(error);
    result.error_message = message.empty() ? std::nullopt : std::optional<std::string>(message);
  }
  co_return response;
}

asio::awaitable<protocol::IncrementalAlterConfigsResponse> handle_incremental_alter_configs(
    RequestContext& ctx, protocol::IncrementalAlterConfigsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::IncrementalAlterConfigsResponse response;
  for (auto& resource : request.resources) {
    auto& result = response.responses.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    if (auto denied = config_access_error(ctx, resource.resource_type, resource.resource_name,
                                          security::AclOperation::AlterConfigs);
        denied != ErrorCode::NONE) {
      result.error_code = code(denied);
      continue;
    }
    if (resource.resource_type == kBrokerResource || resource.resource_type == kGroupResource) {
      std::vector<BrokerConfigChange> changes;
      for (auto& c : resource.configs) changes.push_back({c.name, c.value, c.config_operation});
      auto [error, message] = co_await alter_broker_or_group(broker, resource.resource_type, resource.resource_name,
                                                             changes, /*replace=*/false, request.validate_only);
      result.error_code = code(error);
      result.error_message = message.empty() ? std::nullopt : std::optional<std::string>(message);
      continue;
    }
    if (resource.resource_type != kTopicResource) {
      result.error_code = code(ErrorCode::INVALID_REQUEST);
      result.error_message = "Only topic, broker and group configurations can be altered";
      continue;
    }
    auto info = broker.topics().find(resource.resource_name);
    if (!info) {
      result.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    auto overrides = info->overrides;
    ErrorCode error = ErrorCode::NONE;
    std::string message;
    for (auto& c : resource.configs) {
      auto op = static_cast<AlterConfigOp>(c.config_operation);
      if (op == AlterConfigOp::kSet) {
        if (c.value) overrides[c.name] = *c.value;
      } else if (op == AlterConfigOp::kDelete) {
        overrides.erase(c.name);
      } else if (op == AlterConfigOp::kAppend || op == AlterConfigOp::kSubtract) {
        const auto* info = find_topic_config_info(c.name);
        if (!info || info->type != config_type::kList) {
          error = ErrorCode::INVALID_CONFIG;
          message = not_a_list_message(op, c.name);
          break;
        }
        auto it = overrides.find(c.name);
        auto current = it == overrides.end() ? std::nullopt : std::optional<std::string>(it->second);
        overrides[c.name] = apply_list_op(op, current, kafka_topic_config_default(c.name), c.value.value_or(""));
      } else {
        error = ErrorCode::INVALID_REQUEST;
        message = "Unknown config operation " + std::to_string(c.config_operation) + " for " + c.name;
        break;
      }
    }
    if (error == ErrorCode::NONE)
      std::tie(error, message) = co_await alter_topic(broker, resource.resource_name, overrides, request.validate_only);
    result.error_code = code(error);
    result.error_message = message.empty() ? std::nullopt : std::optional<std::string>(message);
  }
  co_return response;
}

}  // namespace runnel
