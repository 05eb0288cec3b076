#include "cluster/replication/truncation.h"

#include <algorithm>

namespace runnel::cluster::replication {

TruncationStep next_truncation(const storage::EpochList& follower, Offset follower_end,
                               const storage::EpochEndOffset& leader_answer, Offset fallback) {
  if (leader_answer.end_offset == kUndefinedOffset) return {std::min(fallback, follower_end), true};
  if (leader_answer.epoch == kUndefinedEpoch) return {std::min(leader_answer.end_offset, follower_end), true};
  auto mine = follower.end_offset_for(leader_answer.epoch, follower_end);
  if (mine.undefined()) {
    // We never saw an epoch that old: the leader's end of it bounds our
    // common prefix (Kafka's fallback for replicas without epochs there).
    return {std::min(leader_answer.end_offset, follower_end), true};
  }
  if (mine.epoch != leader_answer.epoch) {
    // The leader's epoch is unknown here: cut to the end of our largest
    // epoch below it, then ask about our new latest epoch (KIP-279).
    return {std::min(mine.end_offset, follower_end), false};
  }
  return {std::min({mine.end_offset, leader_answer.end_offset, follower_end}), true};
}

Offset find_truncation_offset(storage::EpochList follower, Offset follower_end, const AskLeader& ask_leader,
                              Offset fallback) {
  // Each incomplete round leaves a strictly older latest epoch, so this
  // bound is never reached by a leader that answers by the rules; it only
  // keeps a misbehaving one from looping us.
  size_t rounds = follower.entries().size() + 1;
  for (size_t i = 0; i < rounds; ++i) {
    auto latest = follower.latest_epoch();
    if (!latest) return follower_end;  // no epochs: nothing we hold is in doubt beyond our end
    auto step = next_truncation(follower, follower_end, ask_leader(*latest), fallback);
    follower_end = std::min(step.truncate_to, follower_end);
    follower.truncate_from_end(follower_end);
    if (step.complete) return follower_end;
  }
  return std::min(fallback, follower_end);
}

}  // namespace runnel::cluster::replication
