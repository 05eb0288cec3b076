#pragma once
// What Fetch v13-v17 change in the request, brought back to the shape the
// Fetch handler serves (names, replica_id), so that it needs no version
// checks of its own beyond the answers:
// - v13+ (KIP-516) names topics by id: each topic's name is looked up (left
//   empty when the id is unknown; the partitions then get UNKNOWN_TOPIC_ID);
// - v15+ (KIP-903) moves the follower's id into the tagged ReplicaState.
// v14 (tiered storage errors), v16 (leader hints, see leader_hints.h) and v17
// (ReplicaDirectoryId, ignored: a broker has one log directory) read the same.
//
// Thread-safety: reads the broker's topic table, safe from any shard.
#include <cstdint>

#include "kafka/broker.h"
#include "protocol/messages.h"

namespace runnel {

void normalize_fetch_request(Broker& broker, protocol::FetchRequest& request, int16_t version);

// The error for a topic the broker does not know: v13+ asked by id.
inline ErrorCode unknown_fetch_topic_error(int16_t version) {
  return version >= 13 ? ErrorCode::UNKNOWN_TOPIC_ID : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

// Fetch v16+: CurrentLeader and NodeEndpoints for every partition answered
// NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH (KIP-951).
void add_fetch_leader_hints(Broker& broker, protocol::FetchResponse& response, int16_t version);

}  // namespace runnel
