// The rebalance protocol: JoinGroup (11), SyncGroup (14), Heartbeat (12),
// LeaveGroup (13). Each request hops to the shard whose coordinator owns the
// group; join and sync answers may wait there for the rest of the group.
// Each needs READ on the group (else GROUP_AUTHORIZATION_FAILED), as Kafka's.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

// Group ids are validated as Kafka does: empty ids are refused.
bool valid_group_id(const std::string& id) { return !id.empty(); }

std::string client_host(const RequestContext& ctx) {
  auto colon = ctx.peer.rfind(':');
  return "/" + (colon == std::string::npos ? ctx.peer : ctx.peer.substr(0, colon));
}

}  // namespace

asio::awaitable<protocol::JoinGroupResponse> handle_join_group(RequestContext& ctx,
                                                               protocol::JoinGroupRequest& request) {
  Broker& broker = ctx.broker;
  protocol::JoinGroupResponse response;
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  response.member_id = request.member_id;
  if (!valid_group_id(request.group_id)) {
    response.error_code = code(ErrorCode::INVALID_GROUP_ID);
    co_return response;
  }
  if (!co_await broker.ensure_offsets_topic()) {
    response.error_code = code(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    response.error_code = code(error);
    co_return response;
  }
  group::JoinRequest join;
  join.member_id = request.member_id;
  join.group_instance_id = request.group_instance_id;
  join.protocol_type = request.protocol_type;
  for (auto& p : request.protocols) join.protocols.push_back({p.name, p.metadata});
  join.session_timeout_ms = request.session_timeout_ms;
  join.rebalance_timeout_ms = ctx.api_version >= 1 ? request.rebalance_timeout_ms : request.session_timeout_ms;
  join.client_id = ctx.client_id.value_or("");
  join.client_host = client_host(ctx);
  join.require_known_member_id = ctx.api_version >= 4;
  join.supports_skip_assignment = ctx.api_version >= 9;
  join.reason = request.reason.value_or("");
  auto result = co_await on_shard(broker.coordinator_shard(request.group_id),
                                  [&broker, &request, &join]() -> asio::awaitable<group::JoinResult> {
                                    co_return co_await broker.coordinator().join(request.group_id, join);
                                  });
  // A join waits (for the other members, up to the rebalance timeout): a
  // coordinator fenced meanwhile (cut off from etcd, its partition not yet
  // unloaded) must not hand out a generation, as the transaction APIs.
  if (auto now = broker.coordinator_error(request.group_id); now != ErrorCode::NONE) {
    response.error_code = code(now);
    co_return response;
  }
  response.error_code = code(result.error);
  response.generation_id = result.generation_id;
  response.protocol_type = result.protocol_type;
  // Before v7 the protocol name is not nullable: an empty string stands for none.
  response.protocol_name =
      ctx.api_version >= 7 ? result.protocol_name : std::optional<std::string>(result.protocol_name.value_or(""));
  response.leader = result.leader;
  response.skip_assignment = result.skip_assignment;
  response.member_id = result.member_id;
  for (auto& m : result.members) {
    auto& out = response.members.emplace_back();
    out.member_id = m.member_id;
    out.group_instance_id = m.group_instance_id;
    out.metadata = m.metadata;
  }
  co_return response;
}

asio::awaitable<protocol::SyncGroupResponse> handle_sync_group(RequestContext& ctx,
                                                               protocol::SyncGroupRequest& request) {
  Broker& broker = ctx.broker;
  protocol::SyncGroupResponse response;
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (!valid_group_id(request.group_id)) {
    response.error_code = code(ErrorCode::INVALID_GROUP_ID);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    response.error_code = code(error);
    co_return response;
  }
  group::SyncRequest sync;
  sync.member_id = request.member_id;
  sync.generation_id = request.generation_id;
  sync.group_instance_id = request.group_instance_id;
  sync.protocol_type = request.protocol_type;
  sync.protocol_name = request.protocol_name;
  for (auto& a : request.assignments) sync.assignments[a.member_id] = a.assignment;
  auto result = co_await on_shard(broker.coordinator_shard(request.group_id),
                                  [&broker, &request, &sync]() -> asio::awaitable<group::SyncResult> {
                                    co_return co_await broker.coordinator().sync(request.group_id, sync);
                                  });
  // A follower's sync waits for the leader's (as a join does).
  if (auto now = broker.coordinator_error(request.group_id); now != ErrorCode::NONE) {
    response.error_code = code(now);
    co_return response;
  }
  response.error_code = code(result.error);
  response.protocol_type = result.protocol_type;
  response.protocol_name = result.protocol_name;
  response.assignment = result.assignment;
  co_return response;
}

asio::awaitable<protocol::HeartbeatResponse> handle_heartbeat(RequestContext& ctx,
                                                              protocol::HeartbeatRequest& request) {
  Broker& broker = ctx.broker;
  protocol::HeartbeatResponse response;
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    response.error_code = code(error);
    co_return response;
  }
  auto error = co_await on_shard(broker.coordinator_shard(request.group_id), [&broker, &request]() {
    return broker.coordinator().heartbeat(request.group_id, request.member_id, request.group_instance_id,
                                          request.generation_id);
  });
  response.error_code = code(error);
  co_return response;
}

asio::awaitable<protocol::LeaveGroupResponse> handle_leave_group(RequestContext& ctx,
                                                                 protocol::LeaveGroupRequest& request) {
  Broker& broker = ctx.broker;
  protocol::LeaveGroupResponse response;
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    response.error_code = code(error);
    co_return response;
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> leaving;
  if (ctx.api_version < 3)
    leaving.push_back({request.member_id, std::nullopt});
  else
    for (auto& m : request.members) leaving.push_back({m.member_id, m.group_instance_id});
  auto errors = co_await on_shard(broker.coordinator_shard(request.group_id), [&broker, &request, &leaving]() {
    std::vector<ErrorCode> out;
    for (const auto& [member, instance] : leaving)
      out.push_back(broker.coordinator().leave(request.group_id, member, instance));
    return out;
  });
  if (ctx.api_version < 3) {
    response.error_code = code(errors.front());
    co_return response;
  }
  for (size_t i = 0; i < leaving.size(); ++i) {
    auto& m = response.members.emplace_back();
    m.member_id = leaving[i].first;
    m.group_instance_id = leaving[i].second;
    m.error_code = code(errors[i]);
  }
  co_return response;
}

}  // namespace runnel
