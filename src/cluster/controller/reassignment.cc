#include "cluster/controller/reassignment.h"

#include <algorithm>

#include "cluster/controller/leader_election.h"

namespace runnel::cluster::controller {
namespace {

bool contains(const std::vector<int32_t>& list, int32_t node) {
  return std::find(list.begin(), list.end(), node) != list.end();
}

// `list` without the members of `drop`, in its order.
std::vector<int32_t> without(const std::vector<int32_t>& list, const std::vector<int32_t>& drop) {
  std::vector<int32_t> out;
  for (int32_t node : list)
    if (!contains(drop, node)) out.push_back(node);
  return out;
}

// The first of `replicas` that is in `isr` and live; -1 when none.
int32_t first_eligible(const std::vector<int32_t>& replicas, const std::vector<int32_t>& isr,
                       const std::set<int32_t>& live) {
  for (int32_t node : replicas)
    if (contains(isr, node) && live.count(node)) return node;
  return -1;
}

// The new leader when a move takes the old one away: the first ISR member
// that is live and not in controlled shutdown, else one that is stopping
// (it leads until it goes, as elect_leader keeps such a partition), else
// none (offline).
int32_t next_leader(const std::vector<int32_t>& replicas, const std::vector<int32_t>& isr,
                    const std::set<int32_t>& live, const std::set<int32_t>& stopping) {
  const int32_t leader = first_eligible(replicas, isr, eligible_leaders(live, stopping));
  return leader >= 0 ? leader : first_eligible(replicas, isr, live);
}

}  // namespace

std::string unknown_topic_message(const std::string& topic) { return "Unable to find a topic named " + topic + "."; }

std::string unknown_partition_message(const std::string& topic, int32_t partition) {
  return "Unable to find partition " + topic + ":" + std::to_string(partition) + ".";
}

ErrorCode validate_target(const std::vector<int32_t>& target, const std::set<int32_t>& registered,
                          std::string* message) {
  if (target.empty()) {
    *message = "The manual partition assignment includes an empty replica list.";
    return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
  }
  std::vector<int32_t> sorted = target;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (!registered.count(sorted[i])) {
      *message = "The manual partition assignment includes broker " + std::to_string(sorted[i]) +
                 ", but no such broker is registered.";
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      *message =
          "The manual partition assignment includes the broker " + std::to_string(sorted[i]) + " more than once.";
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
  }
  return ErrorCode::NONE;
}

std::vector<int32_t> original_replicas(const Placement& placement) {
  if (!placement.reassignment) return placement.replicas;
  return without(placement.replicas, placement.reassignment->adding);
}

ErrorCode check_replication_factor(size_t current_factor, size_t target_factor, bool allowed, std::string* message) {
  if (allowed || target_factor == current_factor) return ErrorCode::NONE;
  *message = "The replication factor is changed from " + std::to_string(current_factor) + " to " +
             std::to_string(target_factor) + " but modifying the replication factor is not allowed.";
  return ErrorCode::INVALID_REPLICATION_FACTOR;
}

Placement start(const Placement& current, const std::vector<int32_t>& target) {
  // The same replicas again during a move: the move goes on (in a new
  // order, if asked), as in Kafka, whose change keeps the adding and
  // removing replicas when it computes none.
  if (current.reassignment) {
    std::vector<int32_t> a = target, b = current.replicas;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a == b) return Placement{target, current.reassignment};
  }
  Placement next;
  metadata::PartitionReassignment move;
  move.adding = without(target, current.replicas);
  move.removing = without(current.replicas, target);
  next.replicas = target;
  next.replicas.insert(next.replicas.end(), move.removing.begin(), move.removing.end());
  if (!move.adding.empty() || !move.removing.empty()) next.reassignment = std::move(move);
  return next;
}

std::optional<Change> complete(const Placement& placement, const metadata::PartitionState& state,
                               const std::set<int32_t>& live, const std::set<int32_t>& stopping) {
  if (!placement.reassignment) return std::nullopt;
  const auto& move = *placement.reassignment;
  for (int32_t node : move.adding)
    if (!contains(state.isr, node)) return std::nullopt;
  // With nothing to add, some replica that stays must hold what was
  // committed.
  if (without(state.isr, move.removing).empty()) return std::nullopt;
  Change out;
  out.placement.replicas = without(placement.replicas, move.removing);
  out.state = state;
  out.state.mod_revision = 0;
  out.state.isr = without(state.isr, move.removing);
  if (state.leader < 0 || contains(move.removing, state.leader))
    out.state.leader = next_leader(out.placement.replicas, out.state.isr, live, stopping);
  if (out.state.leader != state.leader || !move.removing.empty()) ++out.state.leader_epoch;
  ++out.state.partition_epoch;
  return out;
}

ErrorCode revert(const Placement& placement, const metadata::PartitionState& state, const std::set<int32_t>& live,
                 const std::set<int32_t>& stopping, bool unclean, const std::string& topic, int32_t partition,
                 Change& out, std::string* message) {
  if (!placement.reassignment) {
    *message = kNoReassignmentInProgress;
    return ErrorCode::NO_REASSIGNMENT_IN_PROGRESS;
  }
  const auto& adding = placement.reassignment->adding;
  out.placement.replicas = without(placement.replicas, adding);
  out.placement.reassignment.reset();
  out.state = state;
  out.state.mod_revision = 0;
  out.state.isr = without(state.isr, adding);
  if (out.state.isr.empty()) {
    if (!unclean) {
      *message = "Unable to revert partition assignment for " + topic + ":" + std::to_string(partition) +
                 " because it would require an unclean leader election.";
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
    // What only the added replicas had is lost, as the operator allowed.
    for (int32_t node : out.placement.replicas)
      if (live.count(node)) {
        out.state.isr = {node};
        break;
      }
    if (out.state.isr.empty()) out.state.isr = {out.placement.replicas.front()};
  }
  if (state.leader < 0 || contains(adding, state.leader) || !contains(out.state.isr, state.leader))
    out.state.leader = next_leader(out.placement.replicas, out.state.isr, live, stopping);
  if (out.state.leader != state.leader || !adding.empty()) ++out.state.leader_epoch;
  ++out.state.partition_epoch;
  return ErrorCode::NONE;
}

}  // namespace runnel::cluster::controller
