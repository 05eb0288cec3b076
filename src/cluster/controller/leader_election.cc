#include "cluster/controller/leader_election.h"

#include <algorithm>
#include <iterator>

namespace runnel::cluster::controller {

std::optional<metadata::PartitionState> elect_leader(const metadata::PartitionState& current,
                                                     const std::vector<int32_t>& replicas,
                                                     const std::set<int32_t>& live, bool unclean) {
  std::vector<int32_t> live_isr;
  for (int32_t id : current.isr)
    if (live.count(id)) live_isr.push_back(id);
  metadata::PartitionState next = current;
  next.mod_revision = 0;
  if (current.leader >= 0 && live.count(current.leader)) {
    // The leader stays; dead followers leave the ISR.
    if (live_isr == current.isr) return std::nullopt;
    next.isr = live_isr;
    ++next.partition_epoch;
    return next;
  }
  auto in_isr = [&](int32_t id) { return std::find(current.isr.begin(), current.isr.end(), id) != current.isr.end(); };
  int32_t leader = -1;
  for (int32_t id : replicas)
    if (live.count(id) && in_isr(id)) {
      leader = id;
      break;
    }
  // The ISR keeps its last member even when it is dead: it names who holds
  // every committed record.
  next.isr = live_isr.empty() ? current.isr : live_isr;
  if (leader < 0 && unclean) {
    for (int32_t id : replicas)
      if (live.count(id)) {
        leader = id;
        next.isr = {id};
        break;
      }
  }
  if (leader == current.leader && next.isr == current.isr) return std::nullopt;
  if (leader != current.leader) {
    next.leader = leader;
    ++next.leader_epoch;
  }
  ++next.partition_epoch;
  return next;
}

std::set<int32_t> eligible_leaders(const std::set<int32_t>& live, const std::set<int32_t>& stopping) {
  std::set<int32_t> out;
  std::set_difference(live.begin(), live.end(), stopping.begin(), stopping.end(), std::inserter(out, out.end()));
  return out;
}

std::optional<metadata::PartitionState> elect_leader(const metadata::PartitionState& current,
                                                     const std::vector<int32_t>& replicas,
                                                     const std::set<int32_t>& live, const std::set<int32_t>& stopping,
                                                     bool unclean) {
  if (!stopping.empty()) {
    // Clean only: a stopping broker still holds every committed record, so
    // nobody outside the ISR may take its place while it is there.
    auto next = elect_leader(current, replicas, eligible_leaders(live, stopping), /*unclean=*/false);
    if (!next || next->leader >= 0) return next;
  }
  // Nobody but a stopping broker can lead: it counts as live until it goes.
  return elect_leader(current, replicas, live, unclean);
}

std::optional<metadata::PartitionState> renew_leader_epoch(const metadata::PartitionState& current,
                                                           int64_t broker_epoch) {
  if (current.leader < 0 || current.leader_broker_epoch == broker_epoch) return std::nullopt;
  metadata::PartitionState next = current;
  next.mod_revision = 0;
  ++next.leader_epoch;
  ++next.partition_epoch;
  next.leader_broker_epoch = broker_epoch;
  return next;
}

std::optional<metadata::PartitionState> prefer_leader(const metadata::PartitionState& current,
                                                      const std::vector<int32_t>& replicas,
                                                      const std::set<int32_t>& live) {
  if (replicas.empty() || current.leader < 0) return std::nullopt;
  const int32_t preferred = replicas[0];
  if (current.leader == preferred || !live.count(preferred)) return std::nullopt;
  if (std::find(current.isr.begin(), current.isr.end(), preferred) == current.isr.end()) return std::nullopt;
  metadata::PartitionState next = current;
  next.mod_revision = 0;
  next.leader = preferred;
  ++next.leader_epoch;
  ++next.partition_epoch;
  return next;
}

}  // namespace runnel::cluster::controller
