#include "kafka/handlers/leader_hints.h"

namespace runnel {

LeaderHint current_leader(Broker& broker, const std::string& topic, int32_t partition) {
  LeaderHint hint;
  auto info = broker.topics().find(topic);
  if (!info || partition < 0 || partition >= info->partitions) return hint;
  auto leadership = broker.leadership(*info);
  const auto& l = leadership[static_cast<size_t>(partition)];
  hint.leader_id = l.leader;
  hint.leader_epoch = l.leader_epoch;
  if (l.leader >= 0) hint.endpoint = broker.endpoint(l.leader);
  return hint;
}

bool wants_leader_hint(int16_t error_code, bool fenced_epoch_too) {
  if (error_code == code(ErrorCode::NOT_LEADER_OR_FOLLOWER)) return true;
  return fenced_epoch_too && error_code == code(ErrorCode::FENCED_LEADER_EPOCH);
}

void add_produce_leader_hints(Broker& broker, protocol::ProduceResponse& response, int16_t version) {
  if (version < 10) return;
  for (auto& topic : response.responses)
    for (auto& pr : topic.partition_responses)
      if (wants_leader_hint(pr.error_code, /*fenced_epoch_too=*/false))
        add_leader_hint(broker, topic.name, pr.index, pr, response.node_endpoints);
}

}  // namespace runnel
