#pragma once
// KIP-951 leader discovery: a partition answered NOT_LEADER_OR_FOLLOWER (or,
// in Fetch, FENCED_LEADER_EPOCH) carries the leader this broker knows of in
// its CurrentLeader field, and the response lists that leader's address in
// NodeEndpoints, so the client retries there without a Metadata round trip.
// Produce v10+ and Fetch v16+; older versions have no such fields.
//
// Thread-safety: reads the broker's metadata, safe from any shard.
#include <cstdint>
#include <optional>
#include <string>

#include "kafka/broker.h"
#include "protocol/messages.h"

namespace runnel {

struct LeaderHint {
  int32_t leader_id = -1;                    // -1: no leader known
  int32_t leader_epoch = -1;                 // -1: the partition is unknown here
  std::optional<Broker::Endpoint> endpoint;  // the leader's address, if it is alive
};

// Where `topic`-`partition` is led now, as Kafka's getCurrentLeader answers it.
LeaderHint current_leader(Broker& broker, const std::string& topic, int32_t partition);

// Whether an error code gets a hint (Produce: only NOT_LEADER_OR_FOLLOWER).
bool wants_leader_hint(int16_t error_code, bool fenced_epoch_too);

// Fills `pr.current_leader` and adds the leader to `endpoints` (once per
// node). PartitionResponse is Produce's or Fetch's partition response,
// Endpoints their NodeEndpoints vector.
template <class PartitionResponse, class Endpoints>
void add_leader_hint(Broker& broker, const std::string& topic, int32_t partition, PartitionResponse& pr,
                     Endpoints& endpoints) {
  LeaderHint hint = current_leader(broker, topic, partition);
  pr.current_leader.leader_id = hint.leader_id;
  pr.current_leader.leader_epoch = hint.leader_epoch;
  if (!hint.endpoint) return;
  for (const auto& e : endpoints)
    if (e.node_id == hint.endpoint->node_id) return;
  auto& e = endpoints.emplace_back();
  e.node_id = hint.endpoint->node_id;
  e.host = hint.endpoint->host;
  e.port = hint.endpoint->port;
  if (!hint.endpoint->rack.empty()) e.rack = hint.endpoint->rack;
}

// Produce v10+: CurrentLeader and NodeEndpoints for every partition answered
// NOT_LEADER_OR_FOLLOWER (v11 reads and answers as v10; its new error,
// TRANSACTION_ABORTABLE, is never sent by runnel).
void add_produce_leader_hints(Broker& broker, protocol::ProduceResponse& response, int16_t version);

}  // namespace runnel
