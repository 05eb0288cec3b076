// ListConfigResources (74; KIP-1142, v0 was KIP-1000's
// ListClientMetricsResources): the resources whose configs may be described,
// by type, as Kafka's KafkaApis.handleListConfigResources lists them: groups
// that have configs, the brokers on the request's listener, every topic
// (internal ones too), in that order, each sorted. v0 asks for client-metrics
// subscriptions only; v1's empty type list means every type it knows, and a
// type it does not know fails the whole request with UNSUPPORTED_VERSION.
// runnel has no client-metrics subscriptions (KIP-714) and no BROKER_LOGGER
// configs, so those types list nothing. DESCRIBE_CONFIGS on the cluster,
// else CLUSTER_AUTHORIZATION_FAILED.
#include <algorithm>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/config_resources.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::ListConfigResourcesResponse> handle_list_config_resources(
    RequestContext& ctx, protocol::ListConfigResourcesRequest& request) {
  using namespace config_resource;
  Broker& broker = ctx.broker;
  protocol::ListConfigResourcesResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::DescribeConfigs)) {
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    co_return response;
  }
  const std::vector<int8_t> known = {kTopic, kBroker, kBrokerLogger, kClientMetrics, kGroup};
  std::vector<int8_t> types = ctx.api_version == 0 ? std::vector<int8_t>{kClientMetrics} : request.resource_types;
  if (types.empty()) types = known;
  for (int8_t t : types)
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      response.error_code = code(ErrorCode::UNSUPPORTED_VERSION);
      co_return response;
    }
  auto wanted = [&types](int8_t t) { return std::find(types.begin(), types.end(), t) != types.end(); };
  auto add = [&response](int8_t type, std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    for (auto& name : names) {
      auto& r = response.config_resources.emplace_back();
      r.resource_name = std::move(name);
      r.resource_type = type;
    }
  };
  if (wanted(kGroup)) {
    std::vector<std::string> groups;
    for (const auto& [group, values] : broker.dynamic_configs().group_configs)
      if (!values.empty()) groups.push_back(group);
    add(kGroup, std::move(groups));
  }
  if (wanted(kBroker)) {
    std::vector<int32_t> ids;
    for (const auto& b : broker.cluster_brokers(ctx.listener)) ids.push_back(b.node_id);
    std::sort(ids.begin(), ids.end());
    for (int32_t id : ids) add(kBroker, {std::to_string(id)});
  }
  if (wanted(kTopic)) {
    std::vector<std::string> topics;
    for (const auto& t : broker.topics().all()) topics.push_back(t.name);
    add(kTopic, std::move(topics));
  }
  co_return response;
}

}  // namespace runnel
