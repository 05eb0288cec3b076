// ElectLeaders (43, KIP-460): preferred or unclean leader election on
// request, what kafka-leader-election.sh --election-type PREFERRED|UNCLEAN
// sends. Answered as Kafka's controller answers it
// (ReplicationControlManager.electLeaders): per partition NONE, or
// ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION with Kafka's
// messages; asked for every partition (null), only those not already led as
// asked are listed. ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED.
#include <algorithm>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

constexpr int8_t kPreferred = 0;
constexpr int8_t kUnclean = 1;

// Kafka's message for each answer (its ApiError's).
std::optional<std::string> election_message(ErrorCode error, const std::string& topic, int32_t partition,
                                            bool topic_exists) {
  switch (error) {
    case ErrorCode::NONE:
      return std::nullopt;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
      return topic_exists ? "No such partition as " + topic + "-" + std::to_string(partition)
                          : "No such topic as " + topic;
    case ErrorCode::ELECTION_NOT_NEEDED:
      return "Leader election not needed for topic partition.";
    case ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE:
      return "The preferred leader was not available.";
    case ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE:
      return "Eligible topic partition leaders are not available.";
    case ErrorCode::CLUSTER_AUTHORIZATION_FAILED:
      return "Cluster authorization failed.";
    default:
      return "The cluster's metadata store (etcd) could not be reached.";
  }
}

template <class TopicResult>
void add_result(TopicResult& out, int32_t partition, ErrorCode error, const std::string& topic, bool topic_exists) {
  auto& r = out.partition_result.emplace_back();
  r.partition_id = partition;
  r.error_code = code(error);
  r.error_message = election_message(error, topic, partition, topic_exists);
}

}  // namespace

asio::awaitable<protocol::ElectLeadersResponse> handle_elect_leaders(RequestContext& ctx,
                                                                     protocol::ElectLeadersRequest& request) {
  Broker& broker = ctx.broker;
  protocol::ElectLeadersResponse response;
  const int8_t type = ctx.api_version >= 1 ? request.election_type : kPreferred;
  if (type != kPreferred && type != kUnclean) {
    response.error_code = code(ErrorCode::INVALID_REQUEST);
    co_return response;
  }
  const bool all = !request.topic_partitions.has_value();
  if (!authorized_cluster(ctx, security::AclOperation::Alter)) {
    // Kafka: every partition asked for fails; asked for all, none is listed.
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    if (!all)
      for (const auto& t : *request.topic_partitions) {
        auto& out = response.replica_election_results.emplace_back();
        out.topic = t.topic;
        for (int32_t p : t.partitions) add_result(out, p, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, t.topic, true);
      }
    co_return response;
  }
  // What to elect, in the answer's order: the request's, or every partition
  // of every topic by name.
  std::vector<std::pair<std::string, int32_t>> partitions;
  std::vector<std::string> topics;
  if (all) {
    auto every = broker.topics().all();
    std::sort(every.begin(), every.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (const auto& t : every) {
      topics.push_back(t.name);
      for (int32_t p = 0; p < t.partitions; ++p) partitions.emplace_back(t.name, p);
    }
  } else {
    for (const auto& t : *request.topic_partitions) {
      topics.push_back(t.topic);
      for (int32_t p : t.partitions) partitions.emplace_back(t.topic, p);
    }
  }
  const auto results = co_await broker.elect_leaders(partitions, type == kUnclean);
  size_t next = 0;
  for (const auto& topic : topics) {
    auto& out = response.replica_election_results.emplace_back();
    out.topic = topic;
    const bool exists = broker.topics().find(topic).has_value();
    for (; next < partitions.size() && partitions[next].first == topic; ++next) {
      const ErrorCode error = results[next];
      if (all && error == ErrorCode::ELECTION_NOT_NEEDED) continue;  // Kafka lists only the others
      const int32_t p = partitions[next].second;
      add_result(out, p, error, topic, exists);
    }
  }
  co_return response;
}

}  // namespace runnel
