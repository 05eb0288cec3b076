// OffsetForLeaderEpoch (key 23): where a leader epoch ended in a partition's
// log. Consumers (KIP-320) ask it after a leader change to check that their
// position is not past a truncation; followers ask it to find where their log
// diverges from the leader's (KIP-101 / KIP-279). The answer comes from the
// partition's leader epoch cache: the largest epoch <= the one asked for, and
// the start offset of the next higher epoch, or the log end offset for the
// latest; -1/-1 when the log knows no such epoch.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::OffsetForLeaderEpochResponse> handle_offset_for_leader_epoch(
    RequestContext& ctx, protocol::OffsetForLeaderEpochRequest& request) {
  Broker& broker = ctx.broker;
  protocol::OffsetForLeaderEpochResponse response;
  // Kafka's checks: a follower (replica_id >= 0) needs CLUSTER_ACTION, a
  // consumer DESCRIBE on the topic.
  const bool follower_denied =
      request.replica_id >= 0 && !authorized_cluster(ctx, security::AclOperation::ClusterAction);
  for (auto& topic : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.topic = topic.topic;
    auto info = broker.topics().find(topic.topic);
    const bool denied = follower_denied || (request.replica_id < 0 &&
                                            !authorized_topic(ctx, security::AclOperation::Describe, topic.topic));
    for (auto& p : topic.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      if (denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (!info || p.partition < 0 || p.partition >= info->partitions) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      int32_t current = p.current_leader_epoch;
      int32_t wanted = p.leader_epoch;
      auto [error, answer] =
          co_await on_shard(broker.owner(topic.topic, p.partition), [&broker, &topic, &p, current, wanted]() {
            auto* partition = broker.partition(topic.topic, p.partition);
            if (!partition) return std::pair{ErrorCode::NOT_LEADER_OR_FOLLOWER, storage::EpochEndOffset{}};
            if (auto e = partition->check_leader_epoch(LeaderEpoch(current)); e != ErrorCode::NONE)
              return std::pair{e, storage::EpochEndOffset{}};
            return std::pair{ErrorCode::NONE, partition->end_offset_for_epoch(LeaderEpoch(wanted))};
          });
      pr.error_code = code(error);
      pr.leader_epoch = answer.epoch.value();
      pr.end_offset = answer.end_offset.value();
    }
  }
  co_return response;
}

}  // namespace runnel
