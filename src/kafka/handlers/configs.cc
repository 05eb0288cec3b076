// Topic and broker configuration: DescribeConfigs (32), AlterConfigs (33),
// IncrementalAlterConfigs (44). Topic configs use Kafka's names; changes are
// validated in full before any is applied and persist in the topic catalogue.
#include "config/topic_config.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;

// ACLs as Kafka's: a topic's configs need DESCRIBE_CONFIGS / ALTER_CONFIGS on
// the topic (else TOPIC_AUTHORIZATION_FAILED), a broker's on the cluster
// (else CLUSTER_AUTHORIZATION_FAILED). NONE when allowed.
ErrorCode config_access_error(const RequestContext& ctx, int8_t resource_type, const std::string& name,
                              security::AclOperation op) {
  if (resource_type == kTopicResource)
    return authorized_topic(ctx, op, name) ? ErrorCode::NONE : ErrorCode::TOPIC_AUTHORIZATION_FAILED;
  return authorized_cluster(ctx, op) ? ErrorCode::NONE : ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
}
constexpr int8_t kSourceDynamicTopic = 1;
constexpr int8_t kSourceStaticBroker = 4;
constexpr int8_t kSourceDefault = 5;

std::vector<std::pair<std::string, std::string>> broker_configs(const BrokerConfig& c) {
  auto topic = topic_config_defaults(c.log);
  std::vector<std::pair<std::string, std::string>> out = {
      {"auto.create.topics.enable", c.auto_create_topics ? "true" : "false"},
      {"broker.id", std::to_string(c.node_id)},
      {"default.replication.factor", std::to_string(c.default_replication_factor)},
      {"delete.topic.enable", c.delete_topic_enable ? "true" : "false"},
      {"log.dirs", c.data_dir},
      {"log.retention.bytes", std::to_string(c.log.retention_bytes)},
      {"log.retention.ms", std::to_string(c.log.retention_ms)},
      {"log.roll.ms", std::to_string(c.log.segment_ms)},
      {"log.segment.bytes", std::to_string(c.log.segment_bytes)},
      {"message.max.bytes", std::to_string(c.message_max_bytes)},
      {"num.partitions", std::to_string(c.num_partitions)},
      {"socket.request.max.bytes", std::to_string(c.socket_request_max_bytes)},
  };
  return out;
}

template <class Resource>
bool wanted(const Resource& resource, const std::string& name) {
  if (!resource.configuration_keys || resource.configuration_keys->empty()) return true;
  for (const auto& k : *resource.configuration_keys)
    if (k == name) return true;
  return false;
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
    auto add = [&](const std::string& name, const std::string& value, bool is_default,
                   int8_t source) -> protocol::DescribeConfigsResponse::DescribeConfigsResourceResult* {
      if (!wanted(resource, name)) return nullptr;
      auto& entry = result.configs.emplace_back();
      entry.name = name;
      entry.value = value;
      entry.read_only = resource.resource_type == kBrokerResource;
      entry.is_default = is_default;
      entry.config_source = source;
      entry.is_sensitive = false;
      entry.documentation = std::nullopt;  // unless asked for (v3+)
      return &entry;
    };
    if (resource.resource_type == kTopicResource) {
      auto info = broker.topics().find(resource.resource_name);
      if (!info) {
        result.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        result.error_message = "Topic " + resource.resource_name + " does not exist";
        continue;
      }
      // Where each value comes from, as Kafka reports it: the topic's own
      // setting (an internal topic's forced ones count as such, as Kafka
      // creates __consumer_offsets with them), else the broker's setting when
      // it differs from Kafka's default, else that default.
      const auto& infos = topic_config_infos();
      auto kafka = topic_config_defaults(storage::LogConfig{});
      auto broker_defaults = topic_config_defaults(broker.topics().defaults());
      auto effective = topic_config_defaults(info->log_config);
      for (size_t i = 0; i < infos.size(); ++i) {
        const auto& name = infos[i].name;
        auto it = info->overrides.find(name);
        std::string value;
        int8_t source;
        if (it != info->overrides.end()) {
          value = it->second;
          source = kSourceDynamicTopic;
        } else if (effective[i].second != broker_defaults[i].second) {
          value = effective[i].second;
          source = kSourceDynamicTopic;
        } else if (broker_defaults[i].second != kafka[i].second) {
          value = broker_defaults[i].second;
          source = kSourceStaticBroker;
        } else {
          value = kafka[i].second;
          source = kSourceDefault;
        }
        auto* entry = add(name, value, source == kSourceDefault, source);
        if (!entry) continue;
        entry->config_type = infos[i].type;
        if (request.include_documentation) entry->documentation = infos[i].documentation;
        if (!request.include_synonyms) continue;
        // Most specific first: the topic's setting, the broker's, the default.
        if (source == kSourceDynamicTopic) entry->synonyms.push_back({name, value, kSourceDynamicTopic});
        if (infos[i].synonyms.empty()) continue;
        const auto& broker_key = infos[i].synonyms.front();
        if (broker_defaults[i].second != kafka[i].second)
          entry->synonyms.push_back({broker_key, broker_defaults[i].second, kSourceStaticBroker});
        entry->synonyms.push_back({broker_key, kafka[i].second, kSourceDefault});
      }
    } else if (resource.resource_type == kBrokerResource) {
      if (!resource.resource_name.empty() && resource.resource_name != std::to_string(broker.config().node_id)) {
        result.error_code = code(ErrorCode::INVALID_REQUEST);
        result.error_message = "Unexpected broker id " + resource.resource_name;
        continue;
      }
      for (const auto& [name, value] : broker_configs(broker.config())) add(name, value, false, kSourceStaticBroker);
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
    if (resource.resource_type != kTopicResource) {
      result.error_code = code(ErrorCode::INVALID_REQUEST);
      result.error_message = "Only topic configurations can be altered";
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
    if (!message.empty()) result.error_message = message;
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
    if (resource.resource_type != kTopicResource) {
      result.error_code = code(ErrorCode::INVALID_REQUEST);
      result.error_message = "Only topic configurations can be altered";
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
      switch (c.config_operation) {
        case 0:  // SET
          if (c.value) overrides[c.name] = *c.value;
          break;
        case 1:  // DELETE
          overrides.erase(c.name);
          break;
        default:  // APPEND / SUBTRACT apply to list configs; none of ours is one.
          error = ErrorCode::INVALID_CONFIG;
          message = "Config " + c.name + " is not a list; APPEND and SUBTRACT do not apply";
      }
    }
    if (error == ErrorCode::NONE)
      std::tie(error, message) = co_await alter_topic(broker, resource.resource_name, overrides, request.validate_only);
    result.error_code = code(error);
    if (!message.empty()) result.error_message = message;
  }
  co_return response;
}

}  // namespace runnel
