#pragma once
// The follower's truncation rule after a leader change (KIP-101, with the
// KIP-279 refinement), as pure functions over epoch lists, so that it can be
// tested against an oracle before any fetcher exists.
//
// The follower asks the leader OffsetForLeaderEpoch(its latest epoch). The
// leader answers the largest epoch L <= the one asked for that it knows, and
// where L ended in its log. If the follower also knows L, both logs agree up
// to min(follower's end of L, leader's end of L) (an epoch has one leader, so
// records of the same epoch at the same offset are the same records), and the
// follower truncates there: done. If it does not know L, the follower cuts to
// the end of its largest epoch below L and asks again for its new latest
// epoch, which is strictly older: the loop ends.
//
// Preconditions the callers keep: the leader's cache holds its current epoch
// from the moment it became leader (Kafka's makeLeader assigns it at the log
// end even before any record is written), or the answers for older epochs
// are undefined.
//
// Thread-safety: pure functions.
#include <functional>

#include "base/types.h"
#include "storage/leader_epoch_cache.h"

namespace runnel::cluster::replication {

// One round: where to truncate, and whether another question is needed.
struct TruncationStep {
  Offset truncate_to;
  bool complete = true;
};

// Given the follower's epochs and log end and the leader's answer to
// OffsetForLeaderEpoch(follower's latest epoch). An undefined answer (the
// leader knows no epoch that old, or has no epochs) falls back to
// `fallback`, the follower's high watermark, as Kafka does; an answer with
// an end offset but no epoch (a leader that does not track epochs) cuts to
// that offset.
TruncationStep next_truncation(const storage::EpochList& follower, Offset follower_end,
                               const storage::EpochEndOffset& leader_answer, Offset fallback);

// The whole exchange: asks `ask_leader` (OffsetForLeaderEpoch for one epoch)
// as many times as KIP-279 needs, truncating a copy of the follower's epochs
// between rounds, and returns the offset the follower's log must be
// truncated to (never above `follower_end`).
using AskLeader = std::function<storage::EpochEndOffset(LeaderEpoch)>;
Offset find_truncation_offset(storage::EpochList follower, Offset follower_end, const AskLeader& ask_leader,
                              Offset fallback);

}  // namespace runnel::cluster::replication
