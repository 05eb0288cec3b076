// DescribeClientQuotas (key 48) and AlterClientQuotas (key 49), KIP-546:
// kafka-configs.sh --describe / --alter for --entity-type users, clients and
// ips. The quotas are kept with the dynamic broker configs
// (config/client_quota_config.h). As Kafka: describing needs
// DESCRIBE_CONFIGS on the cluster, altering ALTER_CONFIGS (else
// CLUSTER_AUTHORIZATION_FAILED for the request or every entry); each
// entry of an alteration succeeds or fails on its own.
#include <set>

#include "config/client_quota_config.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeClientQuotasResponse> handle_describe_client_quotas(
    RequestContext& ctx, protocol::DescribeClientQuotasRequest& request) {
  protocol::DescribeClientQuotasResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::DescribeConfigs)) {
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    response.error_message = "Cluster authorization failed.";
    response.entries = std::nullopt;
    co_return response;
  }
  std::vector<ClientQuotaFilterComponent> components;
  for (const auto& c : request.components) components.push_back({c.entity_type, c.match_type, c.match});
  ClientQuotas found;
  auto error = describe_client_quotas(ctx.broker.dynamic_configs().client_quotas, components, request.strict, &found);
  if (!error.ok()) {
    response.error_code = code(error.code);
    response.error_message = error.message;
    response.entries = std::nullopt;
    co_return response;
  }
  response.entries.emplace();
  for (const auto& [entity, values] : found) {
    auto& entry = response.entries->emplace_back();
    for (const auto& [type, name] : entity.parts) {
      auto& e = entry.entity.emplace_back();
      e.entity_type = type;
      e.entity_name = name;
    }
    for (const auto& [key, value] : values) {
      auto& v = entry.values.emplace_back();
      v.key = key;
      v.value = value;
    }
  }
  co_return response;
}

asio::awaitable<protocol::AlterClientQuotasResponse> handle_alter_client_quotas(
    RequestContext& ctx, protocol::AlterClientQuotasRequest& request) {
  protocol::AlterClientQuotasResponse response;
  const bool authorized = authorized_cluster(ctx, security::AclOperation::AlterConfigs);
  // Each entry's answer, in the request's order; the valid ones are applied
  // together, in one write.
  std::vector<std::pair<ClientQuotaEntity, ClientQuotaAlteration>> valid;
  std::vector<size_t> valid_entries;
  std::set<ClientQuotaEntity> seen;
  for (const auto& entry : request.entries) {
    auto& out = response.entries.emplace_back();
    ClientQuotaAlteration alteration;
    for (const auto& e : entry.entity) {
      alteration.entity.emplace_back(e.entity_type, e.entity_name);
      auto& shown = out.entity.emplace_back();
      shown.entity_type = e.entity_type;
      shown.entity_name = e.entity_name;
    }
    for (const auto& op : entry.ops)
      alteration.ops.emplace_back(op.key, op.remove ? std::nullopt : std::optional<double>(op.value));
    if (!authorized) {
      out.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
      out.error_message = "Cluster authorization failed.";
      continue;
    }
    ClientQuotaEntity entity;
    auto error = validate_client_quota_alteration(alteration, &entity);
    if (error.ok() && !seen.insert(entity).second)
      error = {ErrorCode::INVALID_REQUEST, "Ignoring duplicate entity " + entity.to_string()};
    if (!error.ok()) {
      out.error_code = code(error.code);
      out.error_message = error.message;
      continue;
    }
    valid.emplace_back(std::move(entity), std::move(alteration));
    valid_entries.push_back(response.entries.size() - 1);
  }
  if (valid.empty() || request.validate_only) co_return response;
  auto change = [&valid](const DynamicBrokerConfigs& current) {
    DynamicBrokerConfigs next = current;
    for (const auto& [entity, alteration] : valid)
      apply_client_quota_alteration(next.client_quotas, entity, alteration);
    return next;
  };
  std::string message;
  const ErrorCode result = co_await ctx.broker.update_dynamic_configs(change, &message);
  if (result != ErrorCode::NONE)
    for (size_t i : valid_entries) {
      response.entries[i].error_code = code(result);
      response.entries[i].error_message = message;
    }
  co_return response;
}

}  // namespace runnel
