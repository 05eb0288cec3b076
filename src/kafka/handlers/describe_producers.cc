// DescribeProducers (key 61, KIP-664): the idempotent producers a partition
// leader knows, from its producer state (storage/producer_state.h): the
// coordinator epoch of its last transaction marker and the first offset of
// its open transaction (-1 when none).
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeProducersResponse> handle_describe_producers(
    RequestContext& ctx, protocol::DescribeProducersRequest& request) {
  Broker& broker = ctx.broker;
  using Producer = protocol::DescribeProducersResponse::DescribeProducersProducerState;
  protocol::DescribeProducersResponse response;
  for (auto& topic : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.name = topic.name;
    auto info = broker.topics().find(topic.name);
    const bool denied = !authorized_topic(ctx, security::AclOperation::Read, topic.name);  // Kafka's check
    for (int32_t index : topic.partition_indexes) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = index;
      if (denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (!info || index < 0 || index >= info->partitions) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      const std::string& name = topic.name;
      auto [error, producers] = co_await on_shard(broker.owner(name, index), [&broker, &name, index]() {
        std::vector<Producer> out;
        auto* partition = broker.partition(name, index);
        if (!partition) return std::pair{broker.missing_partition_error(name, index), out};
        for (const auto& [id, entry] : partition->producer_state().producers()) {
          auto& p = out.emplace_back();
          p.producer_id = id;
          p.producer_epoch = entry.epoch;
          p.last_sequence = entry.batches.empty() ? -1 : entry.batches.back().last_seq;
          p.last_timestamp = entry.last_timestamp;
          p.coordinator_epoch = entry.coordinator_epoch;
          p.current_txn_start_offset = entry.current_txn_first_offset;
        }
        return std::pair{ErrorCode::NONE, out};
      });
      pr.error_code = code(error);
      pr.active_producers = std::move(producers);
    }
  }
  co_return response;
}

}  // namespace runnel
