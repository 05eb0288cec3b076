#include "cluster/controller/replica_assignment.h"

#include <algorithm>
#include <map>
#include <set>

namespace runnel::cluster::controller {
namespace {

// The follower `j` of a partition whose leader sits at `first` (Kafka's
// replicaIndex): never the leader itself, and shifted by `shift` so that
// successive rounds pair the leader with different followers.
size_t follower_index(size_t first, size_t shift, size_t j, size_t n) {
  size_t step = 1 + (shift + j) % (n - 1);
  return (first + step) % n;
}

// Brokers ordered rack by rack (a0, b0, c0, a1, b1, ...), so that walking the
// list visits every rack before any rack twice.
std::vector<BrokerSlot> rack_alternated(const std::vector<BrokerSlot>& brokers) {
  std::map<std::string, std::vector<BrokerSlot>> by_rack;
  for (const auto& b : brokers) by_rack[b.rack].push_back(b);
  std::vector<BrokerSlot> out;
  for (size_t round = 0; out.size() < brokers.size(); ++round)
    for (auto& [_, members] : by_rack)
      if (round < members.size()) out.push_back(members[round]);
  return out;
}

}  // namespace

ErrorCode assign_replicas(std::vector<BrokerSlot> brokers, const AssignmentRequest& request, Assignment& out,
                          std::string* message, std::mt19937* rng) {
  out.clear();
  if (request.partitions <= 0) {
    if (message) *message = "Number of partitions must be larger than 0.";
    return ErrorCode::INVALID_PARTITIONS;
  }
  if (request.replication_factor <= 0) {
    if (message) *message = "Replication factor must be larger than 0.";
    return ErrorCode::INVALID_REPLICATION_FACTOR;
  }
  if (static_cast<size_t>(request.replication_factor) > brokers.size()) {
    if (message)
      *message = "Replication factor: " + std::to_string(request.replication_factor) +
                 " larger than available brokers: " + std::to_string(brokers.size()) + ".";
    return ErrorCode::INVALID_REPLICATION_FACTOR;
  }
  std::sort(brokers.begin(), brokers.end(), [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  // Rack-aware only when every broker names its rack, as Kafka.
  bool racks = std::all_of(brokers.begin(), brokers.end(), [](const auto& b) { return !b.rack.empty(); });
  if (racks) brokers = rack_alternated(brokers);
  const size_t n = brokers.size();
  std::set<std::string> all_racks;
  for (const auto& b : brokers) all_racks.insert(b.rack);

  std::mt19937 local{std::random_device{}()};
  std::mt19937& gen = rng ? *rng : local;
  size_t start = request.start_index >= 0 ? static_cast<size_t>(request.start_index) % n : gen() % n;
  size_t shift = request.replica_shift >= 0 ? static_cast<size_t>(request.replica_shift) % n : gen() % n;

  for (int32_t i = 0; i < request.partitions; ++i) {
    size_t p = static_cast<size_t>(request.first_partition + i);
    if (p > 0 && p % n == 0) ++shift;
    size_t first = (p + start) % n;
    std::vector<int32_t> replicas{brokers[first].node_id};
    std::set<std::string> used_racks{brokers[first].rack};
    std::set<int32_t> used{brokers[first].node_id};
    for (size_t k = 0; replicas.size() < static_cast<size_t>(request.replication_factor); ++k) {
      const auto& candidate = brokers[follower_index(first, racks ? shift * all_racks.size() : shift, k, n)];
      bool rack_ok = !racks || !used_racks.count(candidate.rack) || used_racks.size() == all_racks.size();
      if (rack_ok && !used.count(candidate.node_id)) {
        replicas.push_back(candidate.node_id);
        used.insert(candidate.node_id);
        used_racks.insert(candidate.rack);
      }
    }
    out.push_back(std::move(replicas));
  }
  return ErrorCode::NONE;
}

ErrorCode validate_manual_assignment(const std::vector<BrokerSlot>& brokers, const Assignment& assignment,
                                     std::string* message) {
  std::set<int32_t> live;
  for (const auto& b : brokers) live.insert(b.node_id);
  size_t rf = assignment.empty() ? 0 : assignment[0].size();
  for (size_t p = 0; p < assignment.size(); ++p) {
    const auto& replicas = assignment[p];
    if (replicas.empty() || replicas.size() != rf) {
      if (message) *message = "All partitions should have the same number of replicas.";
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
    if (std::set<int32_t>(replicas.begin(), replicas.end()).size() != replicas.size()) {
      if (message) *message = "Duplicate brokers not allowed in replica assignment of partition " + std::to_string(p);
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
    for (int32_t id : replicas)
      if (!live.count(id)) {
        if (message)
          *message = "The manual partition assignment includes broker " + std::to_string(id) +
                     ", but no such broker is registered.";
        return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
      }
  }
  return ErrorCode::NONE;
}

}  // namespace runnel::cluster::controller
