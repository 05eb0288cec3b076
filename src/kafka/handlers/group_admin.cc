// Group inspection and removal: DescribeGroups (15), ListGroups (16), DeleteGroups (42).
// Groups are "classic" or "consumer" (KIP-848); DescribeGroups describes
// classic groups only, as Kafka's (ConsumerGroupDescribe is the other's).
// ACLs as Kafka's: describing needs DESCRIBE on the group, deleting DELETE
// (else GROUP_AUTHORIZATION_FAILED for that group); ListGroups lists every
// group with DESCRIBE on the cluster, else those the principal may DESCRIBE.
// DescribeGroups v3+ with include_authorized_operations gives each group
// described without error the operations the principal may do on it.
#include <algorithm>
#include <cctype>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Kafka compares both ListGroups filters case-insensitively.
bool matches(const std::vector<std::string>& filter, std::string_view value) {
  if (filter.empty()) return true;
  const std::string v = lower_trimmed(value);
  return std::any_of(filter.begin(), filter.end(), [&](const std::string& f) { return lower_trimmed(f) == v; });
}

}  // namespace

asio::awaitable<protocol::DescribeGroupsResponse> handle_describe_groups(RequestContext& ctx,
                                                                         protocol::DescribeGroupsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeGroupsResponse response;
  for (const auto& id : request.groups) {
    auto& out = response.groups.emplace_back();
    out.group_id = id;
    if (!authorized_group(ctx, security::AclOperation::Describe, id)) {
      out.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
      continue;
    }
    if (id.empty()) {
      out.error_code = code(ErrorCode::INVALID_GROUP_ID);
      continue;
    }
    if (auto error = broker.coordinator_error(id); error != ErrorCode::NONE) {
      out.error_code = code(error);
      continue;
    }
    auto d =
        co_await on_shard(broker.coordinator_shard(id), [&broker, &id]() { return broker.coordinator().describe(id); });
    if (ctx.api_version >= 6 && d.state == group::GroupState::Dead) {
      // KIP-1043: v6 tells an unknown group apart from a dead one's answer.
      out.error_code = code(ErrorCode::GROUP_ID_NOT_FOUND);
      out.error_message = "Group " + id + " not found.";
      continue;
    }
    out.group_state = std::string(group::state_name(d.state));
    out.protocol_type = d.protocol_type;
    out.protocol_data = d.protocol;
    for (auto& m : d.members) {
      auto& member = out.members.emplace_back();
      member.member_id = m.member_id;
      member.group_instance_id = m.group_instance_id;
      member.client_id = m.client_id;
      member.client_host = m.client_host;
      member.member_metadata = m.metadata;
      member.member_assignment = m.assignment;
    }
  }
  if (ctx.api_version >= 3 && request.include_authorized_operations) {
    // Kafka's: for each group described without an error.
    for (auto& out : response.groups)
      if (out.error_code == 0)
        out.authorized_operations = authorized_operations(ctx, security::ResourceType::Group, out.group_id);
  }
  co_return response;
}

asio::awaitable<protocol::ListGroupsResponse> handle_list_groups(RequestContext& ctx,
                                                                 protocol::ListGroupsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::ListGroupsResponse response;
  const bool all_groups = authorized_cluster(ctx, security::AclOperation::Describe);
  for (int s = 0; s < broker.shards().size(); ++s) {
    auto groups = co_await on_shard(broker.shards().at(s), [&broker]() { return broker.coordinator().list(); });
    for (auto& g : groups) {
      std::string state = g.consumer_state.value_or(std::string(group::state_name(g.state)));
      if (!matches(request.states_filter, state) || !matches(request.types_filter, g.type)) continue;
      if (!all_groups && !authorized_group(ctx, security::AclOperation::Describe, g.group_id)) continue;
      auto& out = response.groups.emplace_back();
      out.group_id = g.group_id;
      out.protocol_type = g.protocol_type;
      out.group_state = state;
      out.group_type = g.type;
    }
  }
  co_return response;
}

asio::awaitable<protocol::DeleteGroupsResponse> handle_delete_groups(RequestContext& ctx,
                                                                     protocol::DeleteGroupsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DeleteGroupsResponse response;
  for (const auto& id : request.groups_names) {
    auto& out = response.results.emplace_back();
    out.group_id = id;
    if (!authorized_group(ctx, security::AclOperation::Delete, id)) {
      out.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
      continue;
    }
    if (auto error = broker.coordinator_error(id); error != ErrorCode::NONE) {
      out.error_code = code(error);
      continue;
    }
    auto error = co_await on_shard(broker.coordinator_shard(id), [&broker, &id]() -> asio::awaitable<ErrorCode> {
      co_return co_await broker.coordinator().delete_group(id);
    });
    out.error_code = code(error);
  }
  co_return response;
}

}  // namespace runnel
