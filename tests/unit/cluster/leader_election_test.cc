// The controller's leader election rule, case by case.
#include "cluster/controller/leader_election.h"

#include <gtest/gtest.h>

namespace runnel::cluster::controller {
namespace {

using metadata::PartitionState;

PartitionState state(int32_t leader, int32_t epoch, std::vector<int32_t> isr, int32_t partition_epoch = 0) {
  return PartitionState{leader, epoch, std::move(isr), partition_epoch, 0};
}

TEST(LeaderElection, ALiveLeaderStays) {
  EXPECT_FALSE(elect_leader(state(1, 3, {1, 2, 3}), {1, 2, 3}, {1, 2, 3}, false));
}

TEST(LeaderElection, DeadFollowersLeaveTheIsr) {
  auto next = elect_leader(state(1, 3, {1, 2, 3}, 5), {1, 2, 3}, {1, 3}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(1, 3, {1, 3}, 6));
}

TEST(LeaderElection, ADeadLeaderIsReplacedFromTheIsrInReplicaOrder) {
  auto next = elect_leader(state(1, 3, {3, 1, 2}, 5), {1, 2, 3}, {2, 3}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(2, 4, {3, 2}, 6));
}

TEST(LeaderElection, ALiveReplicaOutsideTheIsrIsNotElected) {
  // Broker 2 is alive but was not in sync: electing it would lose records.
  auto next = elect_leader(state(1, 3, {1}, 5), {1, 2}, {2}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(-1, 4, {1}, 6));  // offline; the ISR keeps its last member
  // Unclean election takes it, at that price.
  auto unclean = elect_leader(state(1, 3, {1}, 5), {1, 2}, {2}, true);
  ASSERT_TRUE(unclean);
  EXPECT_EQ(*unclean, state(2, 4, {2}, 6));
}

TEST(LeaderElection, AnOfflinePartitionComesBackWithItsIsrMember) {
  EXPECT_FALSE(elect_leader(state(-1, 4, {1}, 6), {1, 2}, {2}, false));  // still nobody in sync
  auto next = elect_leader(state(-1, 4, {1}, 6), {1, 2}, {1, 2}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(1, 5, {1}, 7));
}

TEST(LeaderElection, ALeaderRegisteredAgainLeadsOnOnlyInANewEpoch) {
  auto current = state(1, 4, {1, 2}, 6);
  current.leader_broker_epoch = 30;
  EXPECT_FALSE(renew_leader_epoch(current, 30));  // the registration it was elected under
  auto next = renew_leader_epoch(current, 57);    // a restart since
  ASSERT_TRUE(next);
  auto expected = state(1, 5, {1, 2}, 7);
  expected.leader_broker_epoch = 57;
  EXPECT_EQ(*next, expected);
  // Unknown (a state from before the stamp existed): renewed too.
  current.leader_broker_epoch = 0;
  EXPECT_TRUE(renew_leader_epoch(current, 30));
  EXPECT_FALSE(renew_leader_epoch(state(-1, 4, {1}, 6), 30));  // nobody leads
}

TEST(LeaderElection, SingleReplicaPartitionsGoOfflineAndReturn) {
  auto down = elect_leader(PartitionState::initial({2}), {2}, {1, 3}, false);
  ASSERT_TRUE(down);
  EXPECT_EQ(*down, state(-1, 1, {2}, 1));
  auto up = elect_leader(*down, {2}, {1, 2, 3}, false);
  ASSERT_TRUE(up);
  EXPECT_EQ(*up, state(2, 2, {2}, 2));
}

TEST(ControlledShutdown, AStoppingLeaderHandsOverToTheIsrAndLeavesIt) {
  // Broker 1 is stopping: the first other live ISR member, in replica order, leads.
  auto next = elect_leader(state(1, 3, {1, 3, 2}, 5), {1, 2, 3}, {1, 2, 3}, {1}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(2, 4, {3, 2}, 6));
}

TEST(ControlledShutdown, AStoppingFollowerLeavesTheIsr) {
  auto next = elect_leader(state(2, 3, {1, 2, 3}, 5), {1, 2, 3}, {1, 2, 3}, {1}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(2, 3, {2, 3}, 6));
  // Out of the ISR already: nothing to do.
  EXPECT_FALSE(elect_leader(state(2, 3, {2, 3}, 6), {1, 2, 3}, {1, 2, 3}, {1}, false));
}

TEST(ControlledShutdown, AStoppingLeaderAloneInTheIsrKeepsItUntilItGoes) {
  // Nobody else is in sync: it goes on leading, even with unclean election
  // allowed (broker 2 would lose what only 1 has while 1 is still there).
  EXPECT_FALSE(elect_leader(state(1, 3, {1}, 5), {1, 2}, {1, 2}, {1}, false));
  EXPECT_FALSE(elect_leader(state(1, 3, {1}, 5), {1, 2}, {1, 2}, {1}, true));
  // Single replica: the same.
  EXPECT_FALSE(elect_leader(state(1, 3, {1}, 5), {1}, {1, 2, 3}, {1}, false));
  // A dead follower still leaves the ISR meanwhile.
  auto next = elect_leader(state(1, 3, {1, 2}, 5), {1, 2}, {1}, {1}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(1, 3, {1}, 6));
}

TEST(ControlledShutdown, AStoppingBrokerIsNotElectedWhileAnotherCanBe) {
  // The leader died; 2 is stopping, 3 is not: 3 leads although 2 comes first.
  auto next = elect_leader(state(1, 3, {1, 2, 3}, 5), {1, 2, 3}, {2, 3}, {2}, false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(3, 4, {3}, 6));
  // Only the stopping one is in sync: it leads rather than leave the partition offline.
  auto last = elect_leader(state(1, 3, {1, 2}, 5), {1, 2, 3}, {2, 3}, {2}, false);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, state(2, 4, {2}, 6));
}

TEST(PreferredLeader, ThePreferredReplicaLeadsAgainOnceLiveAndInSync) {
  auto next = prefer_leader(state(2, 4, {2, 3, 1}, 7), {1, 2, 3}, {1, 2, 3});
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, state(1, 5, {2, 3, 1}, 8));
}

TEST(PreferredLeader, NotWhileItIsOutOfTheIsrDeadOrAlreadyLeading) {
  EXPECT_FALSE(prefer_leader(state(2, 4, {2, 3}), {1, 2, 3}, {1, 2, 3}));     // catching up
  EXPECT_FALSE(prefer_leader(state(2, 4, {2, 3, 1}), {1, 2, 3}, {2, 3}));     // dead
  EXPECT_FALSE(prefer_leader(state(1, 4, {1, 2, 3}), {1, 2, 3}, {1, 2, 3}));  // leads
  EXPECT_FALSE(prefer_leader(state(-1, 4, {1}), {1, 2, 3}, {1, 2, 3}));       // offline: elect_leader's case
}

}  // namespace
}  // namespace runnel::cluster::controller
