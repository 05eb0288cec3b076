#pragma once
// What Fetch v13-v17 change in the request, brought back to the shape the
// Fetch handler serves (names, replica_id), and the answers those versions
// add, so that the handler itself stays version-blind:
// - v13+ (KIP-516) names topics by id: each topic's name is looked up (left
//   empty when the id is unknown; the partitions then get UNKNOWN_TOPIC_ID);
// - v15+ (KIP-903) moves the follower's id into the tagged ReplicaState.
// v14 (tiered storage errors), v16 (leader hints, see leader_hints.h) and v17
// (ReplicaDirectoryId, ignored: a broker has one log directory) read the same.
//
// Thread-safety: reads the broker's topic table, safe from any shard.
#include <cstdint>
#include <optional>

#include "kafka/broker.h"
#include "protocol/messages.h"

namespace runnel {

void normalize_fetch_request(Broker& broker, protocol::FetchRequest& request, int16_t version);

// Why a partition of `topic` (as the topic table has it now: `info`) cannot
// be read, or NONE: UNKNOWN_TOPIC_ID (v13+, asked by id) or
// UNKNOWN_TOPIC_OR_PARTITION for a topic not known, and, v13+, Kafka's
// INCONSISTENT_TOPIC_ID when the name the id was resolved to now belongs to
// another topic (deleted and created again while the fetch waited).
ErrorCode fetch_topic_error(const std::optional<cluster::TopicShape>& info, const protocol::Uuid& topic_id,
                            int32_t partition, int16_t version);

// Fetch v16+: CurrentLeader and NodeEndpoints for every partition answered
// NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH (KIP-951).
void add_fetch_leader_hints(Broker& broker, protocol::FetchResponse& response, int16_t version);

}  // namespace runnel
