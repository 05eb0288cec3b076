#pragma once
// What the leader of a partition knows about its followers, and the two
// decisions that follow from it: the high watermark and the in-sync replica
// set. Pure bookkeeping (no I/O, no clock of its own), so that the rules can be
// tested alone:
//
// - A follower is caught up at time t when it fetched at or past the leader's
//   log end at t, or at or past the log end the leader had at its previous
//   fetch (Kafka's lastCaughtUpTimeMs). One that has not been caught up for
//   replica.lag.time.max.ms leaves the ISR; a replica out of the ISR whose
//   log and durable offset have reached the high watermark joins it again.
// - The high watermark counts only durable data (DESIGN.md, Cluster): it is
//   the minimum, over the ISR, of what each member has fdatasync'd (followers
//   report it in their Fetch; the leader's own comes from its flusher), and it
//   does not advance while the ISR is smaller than min.insync.replicas.
//
// Thread-safety: none; a Partition's member, used on its shard.
#include <cstdint>
#include <optional>
#include <vector>

#include "base/types.h"

namespace runnel::cluster::replication {

class LeaderState {
 public:
  // `self` leads with `replicas` (the assignment) and `isr` (as committed in
  // etcd). ISR members count as caught up at `now_ms`, so that a new leader
  // does not shrink the ISR before followers had a chance to fetch.
  LeaderState(NodeId self, std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms);

  // A committed change of the assignment or ISR in the same leader epoch.
  // Progress of replicas that stay is kept; new ones start unknown.
  void update(std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms);

  // A follower's Fetch: it has everything below `fetch_offset` and has
  // fdatasync'd everything below `durable_offset` (kUndefinedOffset: not reported);
  // `leader_end` is the leader's log end when the fetch arrived. Fetches from
  // nodes that are not replicas are ignored (false).
  bool on_follower_fetch(NodeId node, Offset fetch_offset, Offset durable_offset, Offset leader_end, int64_t now_ms);

  // The high watermark the ISR allows, given the leader's own durable offset:
  // nullopt while the ISR is below `min_insync_replicas`.
  std::optional<Offset> high_watermark(Offset leader_durable, int32_t min_insync_replicas) const;

  // The ISR the leader should ask for, or nullopt when it should stay: members
  // that lagged more than `lag_max_ms` leave, caught-up replicas whose log and
  // durable offset reached `high_watermark` join. The leader is always in it.
  std::optional<std::vector<NodeId>> proposed_isr(int64_t now_ms, int64_t lag_max_ms, Offset high_watermark) const;

  // Nobody could fetch from this leader until `now_ms` (its broker was
  // fenced): ISR members count as caught up at `now_ms`, as for a new leader,
  // and get replica.lag.time.max.ms from then. Others are unchanged.
  void restart_lag_clocks(int64_t now_ms);

  const std::vector<NodeId>& replicas() const { return replicas_; }
  const std::vector<NodeId>& isr() const { return isr_; }
  bool in_isr(NodeId node) const;

  // A follower's progress as the leader saw it last (tests, status).
  struct Follower {
    NodeId node = kNoNode;
    Offset fetch_offset = kUndefinedOffset;
    Offset durable_offset = kUndefinedOffset;
    int64_t caught_up_ms = -1;
    int64_t last_fetch_ms = -1;
    Offset leader_end_at_last_fetch = kUndefinedOffset;
  };
  const Follower* follower(NodeId node) const;

 private:
  Follower* find(NodeId node);
  void reset_followers(int64_t now_ms);

  NodeId self_;
  std::vector<NodeId> replicas_;
  std::vector<NodeId> isr_;
  std::vector<Follower> followers_;  // every replica but self
};

}  // namespace runnel::cluster::replication
