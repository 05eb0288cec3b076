// DeleteRecords (key 21): moves a partition's log start offset forward; whole
// segments below it are removed. Offset -1 means the high watermark.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DeleteRecordsResponse> handle_delete_records(RequestContext& ctx,
                                                                       protocol::DeleteRecordsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DeleteRecordsResponse response;
  for (auto& topic : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.name = topic.name;
    auto info = broker.topics().find(topic.name);
    const bool denied = !authorized_topic(ctx, security::AclOperation::Delete, topic.name);  // Kafka's check
    for (auto& p : topic.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        pr.low_watermark = -1;
        continue;
      }
      if (!info || p.partition_index < 0 || p.partition_index >= info->partitions) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        pr.low_watermark = -1;
        continue;
      }
      int64_t target = p.offset;
      auto [error, low] =
          co_await on_shard(broker.owner(topic.name, p.partition_index), [&broker, &topic, &p, target]() {
            auto* partition = broker.partition(topic.name, p.partition_index);
            if (!partition) return std::pair{ErrorCode::NOT_LEADER_OR_FOLLOWER, int64_t{-1}};
            int64_t hwm = partition->high_watermark().value();
            int64_t offset = target == -1 ? hwm : target;
            if (offset < 0 || offset > hwm) return std::pair{ErrorCode::OFFSET_OUT_OF_RANGE, int64_t{-1}};
            const int64_t low = partition->delete_records_before(Offset(offset)).value();
            // Short of the target only when the new start could not be written.
            if (low < offset) return std::pair{ErrorCode::KAFKA_STORAGE_ERROR, int64_t{-1}};
            return std::pair{ErrorCode::NONE, low};
          });
      pr.error_code = code(error);
      pr.low_watermark = low;
    }
  }
  co_return response;
}

}  // namespace runnel
