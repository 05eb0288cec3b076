#include "kafka/handlers/fetch_versions.h"

#include "kafka/handlers/leader_hints.h"

namespace runnel {

void normalize_fetch_request(Broker& broker, protocol::FetchRequest& request, int16_t version) {
  if (version >= 15) request.replica_id = request.replica_state.replica_id;
  if (version < 13) return;
  for (auto& topic : request.topics) topic.topic = broker.topics().name_of(topic.topic_id).value_or("");
}

ErrorCode fetch_topic_error(const std::optional<cluster::TopicShape>& info, const protocol::Uuid& topic_id,
                            int32_t partition, int16_t version) {
  if (!info) return version >= 13 ? ErrorCode::UNKNOWN_TOPIC_ID : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (version >= 13 && info->id != topic_id) return ErrorCode::INCONSISTENT_TOPIC_ID;
  if (partition < 0 || partition >= info->partitions) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  return ErrorCode::NONE;
}

void add_fetch_leader_hints(Broker& broker, protocol::FetchResponse& response, int16_t version) {
  if (version < 16) return;
  for (auto& topic : response.responses)
    for (auto& pr : topic.partitions)
      if (wants_leader_hint(pr.error_code, /*fenced_epoch_too=*/true))
        add_leader_hint(broker, topic.topic, pr.partition_index, pr, response.node_endpoints);
}

}  // namespace runnel
