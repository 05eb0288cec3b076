// ConsumerGroupHeartbeat (68): the next-generation consumer group protocol
// (KIP-848). The request is validated here as Kafka's coordinator does before
// it looks at any group; then it hops to the shard whose coordinator owns
// the group, which answers once the group's changes are durable.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

std::string client_host(const RequestContext& ctx) {
  auto colon = ctx.peer.rfind(':');
  return "/" + (colon == std::string::npos ? ctx.peer : ctx.peer.substr(0, colon));
}

}  // namespace

asio::awaitable<protocol::ConsumerGroupHeartbeatResponse> handle_consumer_group_heartbeat(
    RequestContext& ctx, protocol::ConsumerGroupHeartbeatRequest& request) {
  Broker& broker = ctx.broker;
  protocol::ConsumerGroupHeartbeatResponse response;
  auto refuse = [&response](ErrorCode error, std::string message) {
    response.error_code = code(error);
    response.error_message = std::move(message);
  };
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {  // Kafka's check
    refuse(ErrorCode::GROUP_AUTHORIZATION_FAILED, "The client is not authorized to access the group.");
    co_return response;
  }
  group::ConsumerHeartbeat hb;
  hb.member_id = request.member_id;
  hb.member_epoch = request.member_epoch;
  hb.instance_id = request.instance_id;
  hb.rack_id = request.rack_id;
  hb.rebalance_timeout_ms = request.rebalance_timeout_ms;
  hb.subscribed_topic_names = request.subscribed_topic_names;
  hb.subscribed_topic_regex = request.subscribed_topic_regex;
  hb.server_assignor = request.server_assignor;
  if (request.topic_partitions) {
    hb.owned.emplace();
    for (const auto& tp : *request.topic_partitions)
      if (!tp.partitions.empty()) (*hb.owned)[tp.topic_id].insert(tp.partitions.begin(), tp.partitions.end());
  }
  hb.client_id = ctx.client_id.value_or("");
  hb.client_host = client_host(ctx);
  if (request.group_id.empty()) {
    refuse(ErrorCode::INVALID_REQUEST, "GroupId can't be empty.");
    co_return response;
  }
  const auto validation =
      group::validate_heartbeat(hb, ctx.api_version, broker.coordinator().consumer_group_config().assignors);
  if (validation.first != ErrorCode::NONE) {
    refuse(validation.first, validation.second);
    co_return response;
  }
  if (!co_await broker.ensure_offsets_topic()) {
    refuse(ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available.");
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    refuse(error, error == ErrorCode::NOT_COORDINATOR ? "This is not the correct coordinator."
                                                      : "The coordinator is loading and hence can't process requests.");
    co_return response;
  }
  const group::TopicCatalog catalog = broker.group_topic_catalog();
  auto heartbeat = [&broker, &request, &hb, &catalog]() -> asio::awaitable<group::ConsumerHeartbeatResult> {
    co_return co_await broker.coordinator().consumer_heartbeat(request.group_id, hb, catalog);
  };
  auto result = co_await on_shard(broker.coordinator_shard(request.group_id), heartbeat);
  if (result.error != ErrorCode::NONE) {
    refuse(result.error, result.message.value_or(""));
    co_return response;
  }
  response.member_id = result.member_id;
  response.member_epoch = result.member_epoch;
  response.heartbeat_interval_ms = result.heartbeat_interval_ms;
  if (result.assignment) {
    auto& assignment = response.assignment.emplace();
    for (const auto& [topic, parts] : *result.assignment) {
      auto& tp = assignment.topic_partitions.emplace_back();
      tp.topic_id = topic;
      tp.partitions.assign(parts.begin(), parts.end());
    }
  }
  co_return response;
}

}  // namespace runnel
