#pragma once
// Where a topic's partitions live: which brokers hold each partition's
// replicas, the first of them the preferred leader. Follows Kafka's
// assignReplicasToBrokers: leaders spread round-robin from a random start,
// followers shifted so that no two brokers pair up on every partition, and
// with broker.rack set, brokers taken rack by rack so that each partition's
// replicas span as many racks as it can.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/error_code.h"

namespace runnel::cluster::controller {

struct BrokerSlot {
  int32_t node_id;
  std::string rack;  // empty: no rack
};

// replicas[p] = the node ids holding partition `first_partition + p`.
using Assignment = std::vector<std::vector<int32_t>>;

struct AssignmentRequest {
  int32_t partitions = 1;
  int16_t replication_factor = 1;
  int32_t first_partition = 0;  // > 0 when adding partitions to a topic
  // Where round-robin starts (Kafka picks it at random; tests fix it). -1: random.
  int32_t start_index = -1;
  int32_t replica_shift = -1;
};

// INVALID_REPLICATION_FACTOR (with `message`) when there are fewer live
// brokers than replicas, INVALID_PARTITIONS for a non-positive count.
ErrorCode assign_replicas(std::vector<BrokerSlot> brokers, const AssignmentRequest& request, Assignment& out,
                          std::string* message, std::mt19937* rng = nullptr);

// Checks a manual assignment (CreateTopics' assignments, CreatePartitions'
// new_partition_assignments): every partition has the same number of
// distinct replicas, all of them live brokers. INVALID_REPLICA_ASSIGNMENT
// with `message` (Kafka's wording) when not.
ErrorCode validate_manual_assignment(const std::vector<BrokerSlot>& brokers, const Assignment& assignment,
                                     std::string* message);

}  // namespace runnel::cluster::controller
