// ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, KIP-734)
// or the first offset whose timestamp is at or after the one asked for.
// Latest is the high watermark, or for isolation_level 1 (read_committed,
// v2+) the last stable offset, as Kafka answers. With no tiered storage, as
// in Kafka without it: earliest local (-4, v8+, KIP-405) is the earliest,
// latest tiered (-5, v9+, KIP-1005) is offset -1, epoch -1, and v10's
// TimeoutMs (KIP-1075, remote lookups) is ignored.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {
constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr int64_t kMaxTimestamp = -3;
constexpr int64_t kEarliestLocal = -4;
constexpr int64_t kLatestTiered = -5;

struct Lookup {
  ErrorCode error = ErrorCode::NONE;
  int64_t offset = -1;
  int64_t timestamp = -1;
  int32_t leader_epoch = -1;
};
}  // namespace

asio::awaitable<protocol::ListOffsetsResponse> handle_list_offsets(RequestContext& ctx,
                                                                   protocol::ListOffsetsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::ListOffsetsResponse response;
  for (auto& topic : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.name = topic.name;
    auto info = broker.topics().find(topic.name);
    const bool denied = !authorized_topic(ctx, security::AclOperation::Describe, topic.name);  // Kafka's check
    for (auto& p : topic.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      int64_t ts = p.timestamp;
      int32_t current_epoch = p.current_leader_epoch;
      const bool committed = request.isolation_level == 1;
      auto found = co_await on_shard(
          broker.owner(topic.name, p.partition_index), [&broker, &topic, &p, ts, current_epoch, committed]() {
            Lookup out;
            auto* partition = broker.partition(topic.name, p.partition_index);
            if (!partition) {
              out.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
              return out;
            }
            if (auto e = partition->check_leader_epoch(LeaderEpoch(current_epoch)); e != ErrorCode::NONE) {
              out.error = e;
              return out;
            }
            out.leader_epoch = partition->leader_epoch().value();
            if (ts != kEarliest && ts != kEarliestLocal && ts != kLatestTiered &&
                partition->high_watermark_behind_epoch_start()) {
              out.error = ErrorCode::OFFSET_NOT_AVAILABLE;  // retriable: the new leader catches up
              return out;
            }
            if (ts == kLatest) {
              out.offset = (committed ? partition->last_stable_offset() : partition->high_watermark()).value();
            } else if (ts == kLatestTiered) {
              // Nothing is tiered: Kafka answers offset -1 without an error.
            } else if (ts == kEarliest || ts == kEarliestLocal) {
              out.offset = partition->log_start_offset().value();
            } else if (ts == kMaxTimestamp) {
              std::tie(out.offset, out.timestamp) = partition->lookup_max_timestamp();
            } else {
              std::tie(out.offset, out.timestamp) = partition->lookup_timestamp(ts);
            }
            return out;
          });
      pr.error_code = code(found.error);
      pr.offset = found.offset;
      pr.timestamp = found.timestamp;
      // Kafka answers the epoch of the leader that served the lookup (the
      // current one): the consumer validates its position against it.
      pr.leader_epoch = found.offset >= 0 ? found.leader_epoch : -1;
      if (found.error == ErrorCode::NONE && found.offset >= 0) pr.old_style_offsets = {found.offset};
    }
  }
  co_return response;
}

}  // namespace runnel
