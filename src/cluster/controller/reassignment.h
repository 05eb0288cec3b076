#pragma once
// Partition reassignment (KIP-455, AlterPartitionReassignments), as Kafka's
// KRaft controller applies it (ReplicationControlManager and
// PartitionChangeBuilder), in three stages:
//
// 1. start(): the partition's replicas become the target followed by the
//    current replicas that are not in it; `adding` names the target's new
//    replicas, `removing` the current ones outside the target. The new
//    replicas open their logs and follow the leader.
// 2. The leader adds each new replica to the ISR once it has caught up.
// 3. complete(): once the ISR holds every adding replica (or, with none to
//    add, some replica that stays), the removed replicas leave the replica
//    list and the ISR; a leader among them hands over to the first replica
//    of the target that is in the ISR and live, preferring one not in
//    controlled shutdown (`stopping`). Removing replicas bumps the
//    leader epoch (as Kafka does), so the removed ones are fenced.
//
// revert() cancels a move: the adding replicas go, the partition keeps its
// replicas from before.
//
// Thread-safety: pure functions.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cluster/metadata/records.h"

namespace runnel::cluster::controller {

// A partition's replicas and the move in progress, if any.
struct Placement {
  std::vector<int32_t> replicas;
  std::optional<metadata::PartitionReassignment> reassignment{};

  bool operator==(const Placement&) const = default;
};

// Kafka's messages for a partition a request names that does not exist
// (UNKNOWN_TOPIC_OR_PARTITION), and for a cancel with no move in progress.
std::string unknown_topic_message(const std::string& topic);
std::string unknown_partition_message(const std::string& topic, int32_t partition);
inline constexpr const char* kNoReassignmentInProgress = "No partition reassignment is in progress.";

// Kafka's checks of a target: not empty, no broker twice, every broker
// registered. NONE, or INVALID_REPLICA_ASSIGNMENT with Kafka's `message`.
ErrorCode validate_target(const std::vector<int32_t>& target, const std::set<int32_t>& registered,
                          std::string* message);

// The replicas a partition had before its move began (its replicas without
// those being added): its replication factor for AllowReplicationFactorChange.
std::vector<int32_t> original_replicas(const Placement& placement);

// AllowReplicationFactorChange (KIP-860): NONE when `allowed` or the target
// keeps `current_factor` replicas, else INVALID_REPLICATION_FACTOR with
// Kafka's `message`.
ErrorCode check_replication_factor(size_t current_factor, size_t target_factor, bool allowed, std::string* message);

// Stage 1 toward `target` (validated), from the partition's placement (a
// move in progress is replaced: the new one starts from its replica list, as
// in Kafka). A target that only reorders the replicas has nothing to add or
// remove: the replicas become the target at once (during a move, the move
// goes on with the replicas in the new order).
Placement start(const Placement& current, const std::vector<int32_t>& target);

// Stage 3: the placement and state once the move is done, or nullopt while
// the ISR does not allow it yet (or no move is in progress).
struct Change {
  Placement placement;
  metadata::PartitionState state;
};
std::optional<Change> complete(const Placement& placement, const metadata::PartitionState& state,
                               const std::set<int32_t>& live, const std::set<int32_t>& stopping = {});

// Cancels the move in progress: NO_REASSIGNMENT_IN_PROGRESS when there is
// none; INVALID_REPLICA_ASSIGNMENT (with Kafka's message naming
// `topic`-`partition`) when only adding replicas are in the ISR and
// `unclean` is false (the topic's unclean.leader.election.enable); else
// NONE with the reverted placement and state in `out`.
ErrorCode revert(const Placement& placement, const metadata::PartitionState& state, const std::set<int32_t>& live,
                 const std::set<int32_t>& stopping, bool unclean, const std::string& topic, int32_t partition,
                 Change& out, std::string* message);

}  // namespace runnel::cluster::controller
