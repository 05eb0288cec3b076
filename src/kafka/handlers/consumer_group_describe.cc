// ConsumerGroupDescribe (69, KIP-848): a consumer group's epochs, assignor and
// members with their current and target assignments, topics by id and name.
// A classic group, or none, is GROUP_ID_NOT_FOUND, as in Kafka. With
// include_authorized_operations, each group described without error carries
// the operations the principal may do on it.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

using Response = protocol::ConsumerGroupDescribeResponse;

template <class Out>
void fill(Broker& broker, const group::TopicAssignment& in, std::vector<Out>& out) {
  for (const auto& [topic, parts] : in) {
    auto& tp = out.emplace_back();
    tp.topic_id = topic;
    tp.topic_name = broker.topics().name_of(topic).value_or("");
    tp.partitions.assign(parts.begin(), parts.end());
  }
}

// Runs on the group's coordinator shard.
Response::DescribedGroup describe(Broker& broker, const std::string& id) {
  Response::DescribedGroup out;
  out.group_id = id;
  const group::ConsumerGroup* g = broker.coordinator().consumer_group(id);
  if (!g) {
    out.error_code = code(ErrorCode::GROUP_ID_NOT_FOUND);
    out.error_message = broker.coordinator().has_group(id) ? "Group " + id + " is not a consumer group."
                                                           : "Group " + id + " not found.";
    return out;
  }
  out.group_state = std::string(group::consumer_state_name(g->state()));
  out.group_epoch = g->group_epoch();
  out.assignment_epoch = g->assignment_epoch();
  out.assignor_name = g->assignor();
  for (const auto& [member_id, m] : g->members()) {
    auto& member = out.members.emplace_back();
    member.member_id = member_id;
    member.instance_id = m.instance_id;
    member.rack_id = m.rack_id;
    member.member_epoch = m.epoch;
    member.client_id = m.client_id;
    member.client_host = m.client_host;
    member.subscribed_topic_names = m.subscribed_topics;
    member.subscribed_topic_regex = m.subscribed_regex;
    fill(broker, m.assigned, member.assignment.topic_partitions);
    fill(broker, g->target(member_id), member.target_assignment.target_topic_partitions);
    member.member_type = m.classic ? 0 : 1;  // KIP-1099: 0 a classic-protocol member, 1 a consumer-protocol one
  }
  return out;
}

}  // namespace

asio::awaitable<Response> handle_consumer_group_describe(RequestContext& ctx,
                                                         protocol::ConsumerGroupDescribeRequest& request) {
  Broker& broker = ctx.broker;
  Response response;
  for (const auto& id : request.group_ids) {
    if (!authorized_group(ctx, security::AclOperation::Describe, id)) {  // Kafka's check
      auto& out = response.groups.emplace_back();
      out.group_id = id;
      out.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
      continue;
    }
    if (id.empty()) {
      auto& out = response.groups.emplace_back();
      out.group_id = id;
      out.error_code = code(ErrorCode::INVALID_GROUP_ID);
      continue;
    }
    if (auto error = broker.coordinator_error(id); error != ErrorCode::NONE) {
      auto& out = response.groups.emplace_back();
      out.group_id = id;
      out.error_code = code(error);
      continue;
    }
    auto described = co_await on_shard(broker.coordinator_shard(id), [&broker, &id]() { return describe(broker, id); });
    response.groups.push_back(std::move(described));
  }
  if (request.include_authorized_operations) {
    // Kafka's: for each group described without an error.
    for (auto& out : response.groups)
      if (out.error_code == 0)
        out.authorized_operations = authorized_operations(ctx, security::ResourceType::Group, out.group_id);
  }
  co_return response;
}

}  // namespace runnel
