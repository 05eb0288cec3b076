// The leader's bookkeeping of its followers: caught-up times, ISR shrink and
// expansion, and the durable high watermark.
#include "cluster/replication/leader_state.h"

#include <gtest/gtest.h>

namespace runnel::cluster::replication {
namespace {

constexpr int64_t kLag = 1000;

NodeId N(int32_t id) { return NodeId(id); }
Offset O(int64_t offset) { return Offset(offset); }
std::vector<NodeId> nodes(std::initializer_list<int32_t> ids) {
  std::vector<NodeId> out;
  for (auto id : ids) out.push_back(NodeId(id));
  return out;
}
// A follower's Fetch: node, fetch offset, durable offset, leader end, time.
bool fetch(LeaderState& s, int32_t node, int64_t fetch_offset, int64_t durable, int64_t leader_end, int64_t now_ms) {
  return s.on_follower_fetch(N(node), O(fetch_offset), O(durable), O(leader_end), now_ms);
}

TEST(LeaderState, HighWatermarkIsTheSmallestDurableOffsetOfTheIsr) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2, 3}), 0);
  // Followers not heard from yet hold it.
  EXPECT_FALSE(s.high_watermark(O(10), 1));
  fetch(s, 2, 10, 8, 10, 5);
  EXPECT_FALSE(s.high_watermark(O(10), 1));
  fetch(s, 3, 10, 10, 10, 5);
  EXPECT_EQ(s.high_watermark(O(10), 1), O(8));
  EXPECT_EQ(s.high_watermark(O(6), 1), O(6));  // the leader's own sync lags
  // A follower never counts as durable past what it has.
  fetch(s, 2, 9, 12, 10, 6);
  EXPECT_EQ(s.high_watermark(O(10), 1), O(9));
}

TEST(LeaderState, NoHighWatermarkBelowMinInsyncReplicas) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2}), 0);
  fetch(s, 2, 5, 5, 5, 1);
  EXPECT_EQ(s.high_watermark(O(5), 2), O(5));
  EXPECT_FALSE(s.high_watermark(O(5), 3));
}

TEST(LeaderState, FollowersOutOfTheIsrDoNotHoldTheHighWatermark) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2}), 0);
  fetch(s, 2, 7, 7, 7, 1);
  fetch(s, 3, 0, 0, 7, 1);
  EXPECT_EQ(s.high_watermark(O(7), 1), O(7));
}

// The ISR is a set: the same members in another order are no change, and a
// member that is no longer a replica (a reassignment removed it) goes.
TEST(LeaderState, TheIsrChangesOnlyWhenItsMembersDo) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({3, 1, 2}), 0);
  fetch(s, 2, 10, 10, 10, 900);
  fetch(s, 3, 10, 10, 10, 900);
  EXPECT_FALSE(s.proposed_isr(1000, kLag, O(10)));
  s.update(nodes({1, 2}), nodes({1, 2, 3}), 950);
  auto next = s.proposed_isr(1000, kLag, O(10));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, nodes({1, 2}));
}

TEST(LeaderState, ALaggingMemberLeavesTheIsr) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2, 3}), 0);
  fetch(s, 2, 10, 10, 10, 900);  // caught up at 900
  fetch(s, 3, 4, 4, 10, 900);    // behind since the start (0)
  EXPECT_FALSE(s.proposed_isr(1000, kLag, O(4)));
  auto next = s.proposed_isr(1001, kLag, O(4));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, nodes({1, 2}));
}

TEST(LeaderState, AfterAFenceTheIsrMembersGetAFullLagAgain) {
  // The leader's broker was fenced from 500 to 5000 (an etcd outage): nobody
  // could fetch from it, so nobody lagged.
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2}), 0);
  fetch(s, 2, 10, 10, 10, 500);
  fetch(s, 3, 10, 10, 10, 500);  // caught up, but not in the ISR
  s.restart_lag_clocks(5000);
  EXPECT_FALSE(s.proposed_isr(5000 + kLag, kLag, O(10)));
  EXPECT_EQ(s.follower(N(2))->caught_up_ms, 5000);
  EXPECT_EQ(s.follower(N(3))->caught_up_ms, 500);        // not a member: unchanged
  auto next = s.proposed_isr(5001 + kLag, kLag, O(10));  // still no fetch
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, nodes({1}));
}

TEST(LeaderState, CaughtUpToTheEndSeenAtTheLastFetchCounts) {
  LeaderState s(N(1), nodes({1, 2}), nodes({1, 2}), 0);
  fetch(s, 2, 5, 5, 10, 500);  // behind: the leader had 10
  // Fetches at 10 while the leader has moved on to 12: it reached what the
  // leader had at its last fetch, so it was caught up as of that fetch (500).
  fetch(s, 2, 10, 10, 12, 1400);
  EXPECT_EQ(s.follower(N(2))->caught_up_ms, 500);
  EXPECT_TRUE(s.proposed_isr(1501, kLag, O(10)));  // over 1000 ms since 500: out
  fetch(s, 2, 12, 12, 12, 1450);
  EXPECT_FALSE(s.proposed_isr(1500, kLag, O(12)));
}

TEST(LeaderState, ACaughtUpReplicaRejoinsOnceDurableAtTheHighWatermark) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2}), 0);
  fetch(s, 2, 20, 20, 20, 100);
  fetch(s, 3, 20, 15, 20, 100);  // has it, not yet durable
  EXPECT_FALSE(s.proposed_isr(100, kLag, O(20)));
  fetch(s, 3, 20, 20, 20, 110);
  auto next = s.proposed_isr(110, kLag, O(20));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, nodes({1, 2, 3}));
}

TEST(LeaderState, AMemberRemovedByTheControllerMustFetchAgainToRejoin) {
  LeaderState s(N(1), nodes({1, 2, 3}), nodes({1, 2, 3}), 0);
  fetch(s, 3, 10, 10, 10, 100);
  // Its broker died: the controller took it out of the ISR.
  s.update(nodes({1, 2, 3}), nodes({1, 2}), 200);
  EXPECT_FALSE(s.proposed_isr(300, kLag, O(10)).has_value() && s.proposed_isr(300, kLag, O(10))->size() == 3);
  fetch(s, 3, 10, 10, 10, 400);
  auto next = s.proposed_isr(400, kLag, O(10));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->size(), 3u);
}

TEST(LeaderState, FetchesFromNonReplicasAreIgnored) {
  LeaderState s(N(1), nodes({1, 2}), nodes({1, 2}), 0);
  EXPECT_FALSE(fetch(s, 7, 1, 1, 1, 1));
  EXPECT_EQ(s.follower(N(7)), nullptr);
}

}  // namespace
}  // namespace runnel::cluster::replication
