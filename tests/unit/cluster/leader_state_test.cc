// The leader's bookkeeping of its followers: caught-up times, ISR shrink and
// expansion, and the durable high watermark.
#include "cluster/replication/leader_state.h"

#include <gtest/gtest.h>

namespace runnel::cluster::replication {
namespace {

constexpr int64_t kLag = 1000;

TEST(LeaderState, HighWatermarkIsTheSmallestDurableOffsetOfTheIsr) {
  LeaderState s(1, {1, 2, 3}, {1, 2, 3}, 0);
  // Followers not heard from yet hold it.
  EXPECT_FALSE(s.high_watermark(10, 1));
  s.on_follower_fetch(2, 10, 8, 10, 5);
  EXPECT_FALSE(s.high_watermark(10, 1));
  s.on_follower_fetch(3, 10, 10, 10, 5);
  EXPECT_EQ(s.high_watermark(10, 1), 8);
  EXPECT_EQ(s.high_watermark(6, 1), 6);  // the leader's own sync lags
  // A follower never counts as durable past what it has.
  s.on_follower_fetch(2, 9, 12, 10, 6);
  EXPECT_EQ(s.high_watermark(10, 1), 9);
}

TEST(LeaderState, NoHighWatermarkBelowMinInsyncReplicas) {
  LeaderState s(1, {1, 2, 3}, {1, 2}, 0);
  s.on_follower_fetch(2, 5, 5, 5, 1);
  EXPECT_EQ(s.high_watermark(5, 2), 5);
  EXPECT_FALSE(s.high_watermark(5, 3));
}

TEST(LeaderState, FollowersOutOfTheIsrDoNotHoldTheHighWatermark) {
  LeaderState s(1, {1, 2, 3}, {1, 2}, 0);
  s.on_follower_fetch(2, 7, 7, 7, 1);
  s.on_follower_fetch(3, 0, 0, 7, 1);
  EXPECT_EQ(s.high_watermark(7, 1), 7);
}

TEST(LeaderState, ALaggingMemberLeavesTheIsr) {
  LeaderState s(1, {1, 2, 3}, {1, 2, 3}, 0);
  s.on_follower_fetch(2, 10, 10, 10, 900);  // caught up at 900
  s.on_follower_fetch(3, 4, 4, 10, 900);    // behind since the start (0)
  EXPECT_FALSE(s.proposed_isr(1000, kLag, 4));
  auto next = s.proposed_isr(1001, kLag, 4);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, (std::vector<int32_t>{1, 2}));
}

TEST(LeaderState, CaughtUpToTheEndSeenAtTheLastFetchCounts) {
  LeaderState s(1, {1, 2}, {1, 2}, 0);
  s.on_follower_fetch(2, 5, 5, 10, 500);  // behind: the leader had 10
  // Fetches at 10 while the leader has moved on to 12: it reached what the
  // leader had at its last fetch, so it was caught up as of that fetch (500).
  s.on_follower_fetch(2, 10, 10, 12, 1400);
  EXPECT_EQ(s.follower(2)->caught_up_ms, 500);
  EXPECT_TRUE(s.proposed_isr(1501, kLag, 10));  // over 1000 ms since 500: out
  s.on_follower_fetch(2, 12, 12, 12, 1450);
  EXPECT_FALSE(s.proposed_isr(1500, kLag, 12));
}

TEST(LeaderState, ACaughtUpReplicaRejoinsOnceDurableAtTheHighWatermark) {
  LeaderState s(1, {1, 2, 3}, {1, 2}, 0);
  s.on_follower_fetch(2, 20, 20, 20, 100);
  s.on_follower_fetch(3, 20, 15, 20, 100);  // has it, not yet durable
  EXPECT_FALSE(s.proposed_isr(100, kLag, 20));
  s.on_follower_fetch(3, 20, 20, 20, 110);
  auto next = s.proposed_isr(110, kLag, 20);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, (std::vector<int32_t>{1, 2, 3}));
}

TEST(LeaderState, AMemberRemovedByTheControllerMustFetchAgainToRejoin) {
  LeaderState s(1, {1, 2, 3}, {1, 2, 3}, 0);
  s.on_follower_fetch(3, 10, 10, 10, 100);
  // Its broker died: the controller took it out of the ISR.
  s.update({1, 2, 3}, {1, 2}, 200);
  EXPECT_FALSE(s.proposed_isr(300, kLag, 10).has_value() && s.proposed_isr(300, kLag, 10)->size() == 3);
  s.on_follower_fetch(3, 10, 10, 10, 400);
  auto next = s.proposed_isr(400, kLag, 10);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->size(), 3u);
}

TEST(LeaderState, FetchesFromNonReplicasAreIgnored) {
  LeaderState s(1, {1, 2}, {1, 2}, 0);
  EXPECT_FALSE(s.on_follower_fetch(7, 1, 1, 1, 1));
  EXPECT_EQ(s.follower(7), nullptr);
}

}  // namespace
}  // namespace runnel::cluster::replication
