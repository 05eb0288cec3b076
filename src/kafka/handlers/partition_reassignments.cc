// AlterPartitionReassignments (45) and ListPartitionReassignments (46),
// KIP-455: what kafka-reassign-partitions.sh --execute, --cancel and --verify
// send. Answered as Kafka's controller answers them
// (ReplicationControlManager): per partition NONE or Kafka's error and
// message; the moves in progress with their replicas, adding and removing
// replicas. ALTER on the cluster to move, DESCRIBE to list, else
// CLUSTER_AUTHORIZATION_FAILED.
#include <map>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

const char* const kClusterAuthorizationFailed = "Cluster authorization failed.";

}  // namespace

asio::awaitable<protocol::AlterPartitionReassignmentsResponse> handle_alter_partition_reassignments(
    RequestContext& ctx, protocol::AlterPartitionReassignmentsRequest& request) {
  protocol::AlterPartitionReassignmentsResponse response;
  response.allow_replication_factor_change = request.allow_replication_factor_change;
  if (!authorized_cluster(ctx, security::AclOperation::Alter)) {
    // Kafka's error response: the error at the top and for every partition.
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    response.error_message = kClusterAuthorizationFailed;
    for (const auto& t : request.topics) {
      auto& out = response.responses.emplace_back();
      out.name = t.name;
      for (const auto& p : t.partitions) {
        auto& r = out.partitions.emplace_back();
        r.partition_index = p.partition_index;
        r.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
        r.error_message = kClusterAuthorizationFailed;
      }
    }
    co_return response;
  }
  std::vector<cluster::ReassignmentRequest> moves;
  for (const auto& t : request.topics)
    for (const auto& p : t.partitions) moves.push_back({t.name, p.partition_index, p.replicas});
  // v0 has no option: a v0 client may change the replication factor.
  const bool allow_factor_change = ctx.api_version < 1 || request.allow_replication_factor_change;
  const auto results = co_await ctx.broker.alter_reassignments(moves, allow_factor_change);
  size_t next = 0;
  for (const auto& t : request.topics) {
    auto& out = response.responses.emplace_back();
    out.name = t.name;
    for (const auto& p : t.partitions) {
      const auto& result = results[next++];
      auto& r = out.partitions.emplace_back();
      r.partition_index = p.partition_index;
      r.error_code = code(result.error);
      if (result.error != ErrorCode::NONE) r.error_message = result.message;
    }
  }
  co_return response;
}

asio::awaitable<protocol::ListPartitionReassignmentsResponse> handle_list_partition_reassignments(
    RequestContext& ctx, protocol::ListPartitionReassignmentsRequest& request) {
  protocol::ListPartitionReassignmentsResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::Describe)) {
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    response.error_message = kClusterAuthorizationFailed;
    co_return response;
  }
  // The moves in progress by topic; a request naming topics lists only
  // those, in its order, and only the partitions it names.
  std::map<std::string, std::map<int32_t, Broker::OngoingReassignment>> ongoing;
  for (auto& move : ctx.broker.ongoing_reassignments()) ongoing[move.topic][move.partition] = std::move(move);
  auto add = [&response](const std::string& name, const std::vector<const Broker::OngoingReassignment*>& moves) {
    if (moves.empty()) return;
    auto& topic = response.topics.emplace_back();
    topic.name = name;
    for (const auto* move : moves) {
      auto& p = topic.partitions.emplace_back();
      p.partition_index = move->partition;
      p.replicas = move->replicas;
      p.adding_replicas = move->adding;
      p.removing_replicas = move->removing;
    }
  };
  if (!request.topics) {
    for (const auto& [name, partitions] : ongoing) {
      std::vector<const Broker::OngoingReassignment*> moves;
      for (const auto& [_, move] : partitions) moves.push_back(&move);
      add(name, moves);
    }
    co_return response;
  }
  for (const auto& t : *request.topics) {
    auto it = ongoing.find(t.name);
    if (it == ongoing.end()) continue;
    std::vector<const Broker::OngoingReassignment*> moves;
    for (int32_t p : t.partition_indexes)
      if (auto move = it->second.find(p); move != it->second.end()) moves.push_back(&move->second);
    add(t.name, moves);
  }
  co_return response;
}

}  // namespace runnel
