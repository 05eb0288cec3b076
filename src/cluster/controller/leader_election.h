#pragma once
// The controller's rule for a partition's leadership when brokers come and
// go, as Kafka's KRaft controller applies it:
// - a leader that is no longer live is replaced by the first live replica of
//   the ISR, in replica order; the dead broker leaves the ISR unless it was
//   its last member (an ISR is never empty: it names who holds every
//   committed record);
// - with no live ISR member the partition goes offline (leader -1), unless
//   unclean.leader.election.enable lets any live replica take it, at the
//   price of losing what only the ISR had;
// - an offline partition whose ISR member comes back is led by it again;
// - a broker in controlled shutdown (still live) hands its leaderships to
//   other ISR members and leaves the ISRs, as KRaft's controller does for a
//   broker in controlled shutdown; a partition no other live replica of the
//   ISR can lead stays with it until it goes.
// Every change bumps the leader epoch (when the leader changes) and the
// partition epoch (always).
//
// Thread-safety: pure function.
#include <optional>
#include <set>
#include <vector>

#include "cluster/metadata/records.h"

namespace runnel::cluster::controller {

// The next state of a partition, or nullopt when it needs no change.
std::optional<metadata::PartitionState> elect_leader(const metadata::PartitionState& current,
                                                     const std::vector<int32_t>& replicas,
                                                     const std::set<int32_t>& live, bool unclean);
// The live brokers not in controlled shutdown (`stopping`): those that may
// be elected, preferred or join an ISR.
std::set<int32_t> eligible_leaders(const std::set<int32_t>& live, const std::set<int32_t>& stopping);

// As above, with `stopping` the live brokers in controlled shutdown: they
// lead nothing and leave the ISR wherever a live broker not stopping can take
// their place (the first live one of the ISR, in replica order).
std::optional<metadata::PartitionState> elect_leader(const metadata::PartitionState& current,
                                                     const std::vector<int32_t>& replicas,
                                                     const std::set<int32_t>& live, const std::set<int32_t>& stopping,
                                                     bool unclean);

// A live leader whose broker registered again since it got its leader epoch
// (`broker_epoch`, its registration's create revision now, is not the one
// stamped in the state): the same leader in a new epoch, stamped with
// `broker_epoch`. Its log may lack records it appended in the old epoch
// before a restart (unsynced when the power went) that its followers kept;
// leading on in that epoch, it would write other records at those offsets
// and no follower would see the divergence. nullopt when the stamp is
// current or the partition has no leader.
std::optional<metadata::PartitionState> renew_leader_epoch(const metadata::PartitionState& current,
                                                           int64_t broker_epoch);

// Kafka's preferred leader election (auto.leader.rebalance.enable): the
// first replica of the assignment leads again once it is live and in the
// ISR, in a new leader epoch; nullopt when it already leads or cannot.
std::optional<metadata::PartitionState> prefer_leader(const metadata::PartitionState& current,
                                                      const std::vector<int32_t>& replicas,
                                                      const std::set<int32_t>& live);

}  // namespace runnel::cluster::controller
