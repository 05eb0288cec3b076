// DescribeTopicPartitions (key 75, KIP-966): Metadata's topic and partition
// description for admin clients, a page at a time, as Kafka's
// DescribeTopicPartitionsRequestHandler serves it. Topics (the requested ones,
// or every topic when none is named) are taken in name order from the cursor
// on; a page holds at most response_partition_limit partitions (capped at
// Kafka's max.request.partition.size.limit default, 2000), and next_cursor
// says where the next page starts (null on the last one). Eligible leader
// replicas (KIP-966) do not exist in runnel: the lists are empty, as Kafka
// answers without ELR. Each topic but those the principal may not describe
// carries the operations it may do on it (topic_authorized_operations).
#include <algorithm>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

using TopicPartitionsResponse = protocol::DescribeTopicPartitionsResponse;

constexpr int32_t kMaxRequestPartitionSizeLimit = 2000;  // Kafka's max.request.partition.size.limit default

// Kafka answers a request it refuses (InvalidRequestException) with the error
// on every requested topic.
TopicPartitionsResponse refuse(const protocol::DescribeTopicPartitionsRequest& request, ErrorCode error) {
  TopicPartitionsResponse response;
  for (const auto& t : request.topics) {
    auto& out = response.topics.emplace_back();
    out.name = t.name;
    out.error_code = code(error);
  }
  return response;
}

}  // namespace

asio::awaitable<TopicPartitionsResponse> handle_describe_topic_partitions(
    RequestContext& ctx, protocol::DescribeTopicPartitionsRequest& request) {
  Broker& broker = ctx.broker;
  const bool all_topics = request.topics.empty();
  const std::string cursor_topic = request.cursor ? request.cursor->topic_name : "";
  std::set<std::string> names;  // sorted, as Kafka pages through them
  if (all_topics) {
    for (const auto& t : broker.topics().all())
      if (t.name >= cursor_topic && authorized_topic(ctx, security::AclOperation::Describe, t.name))
        names.insert(t.name);
  } else {
    for (const auto& t : request.topics)
      if (t.name >= cursor_topic) names.insert(t.name);
    if (request.cursor && !names.count(request.cursor->topic_name))
      co_return refuse(request, ErrorCode::INVALID_REQUEST);
  }
  if (request.cursor && request.cursor->partition_index < 0) co_return refuse(request, ErrorCode::INVALID_REQUEST);

  TopicPartitionsResponse response;
  int32_t remaining = std::max(std::min(kMaxRequestPartitionSizeLimit, request.response_partition_limit), 1);
  for (const auto& name : names) {
    if (remaining == 0) {
      // The page is full: the next one starts at this topic.
      response.next_cursor = TopicPartitionsResponse::Cursor{};
      response.next_cursor->topic_name = name;
      response.next_cursor->partition_index = 0;
      break;
    }
    auto info = broker.topics().find(name);
    if (!authorized_topic(ctx, security::AclOperation::Describe, name)) {  // Kafka's check
      auto& out = response.topics.emplace_back();
      out.name = name;
      out.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      continue;
    }
    if (!info) {
      if (all_topics) continue;  // deleted meanwhile
      auto& out = response.topics.emplace_back();
      out.name = name;
      out.error_code =
          code(cluster::validate_topic_name(name) != ErrorCode::NONE ? ErrorCode::INVALID_TOPIC_EXCEPTION
                                                                     : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    auto& out = response.topics.emplace_back();
    out.name = name;
    out.topic_id = info->id;
    out.is_internal = info->internal;
    const int32_t start = request.cursor && name == cursor_topic ? request.cursor->partition_index : 0;
    const int32_t upper = std::min<int64_t>(info->partitions, int64_t{start} + remaining);
    auto leadership = broker.leadership(*info);
    for (int32_t p = start; p < upper; ++p) {
      const auto& l = leadership[static_cast<size_t>(p)];
      auto& part = out.partitions.emplace_back();
      part.partition_index = p;
      part.leader_id = l.leader;
      part.leader_epoch = l.leader_epoch;
      part.replica_nodes = l.replicas;
      part.isr_nodes = l.isr;
      part.offline_replicas = l.offline;
      part.eligible_leader_replicas.emplace();
      part.last_known_elr.emplace();
    }
    if (upper < info->partitions) {
      response.next_cursor = TopicPartitionsResponse::Cursor{};
      response.next_cursor->topic_name = name;
      response.next_cursor->partition_index = upper;
      break;
    }
    remaining -= static_cast<int32_t>(out.partitions.size());
  }
  // Kafka's: always, for every topic but those the principal may not describe.
  for (auto& out : response.topics)
    if (out.error_code != code(ErrorCode::TOPIC_AUTHORIZATION_FAILED) && out.name)
      out.topic_authorized_operations = authorized_operations(ctx, security::ResourceType::Topic, *out.name);
  co_return response;
}

}  // namespace runnel
