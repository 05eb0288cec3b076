// Partition reassignment's rules (KIP-455), stage by stage, as Kafka's
// controller applies them.
#include "cluster/controller/reassignment.h"

#include <gtest/gtest.h>

namespace runnel::cluster::controller {
namespace {

using metadata::PartitionReassignment;
using metadata::PartitionState;

PartitionState reassigned_state(int32_t leader, int32_t epoch, std::vector<int32_t> isr, int32_t partition_epoch = 0) {
  return PartitionState{leader, epoch, std::move(isr), partition_epoch, 0};
}

Placement moving_placement(std::vector<int32_t> replicas, std::vector<int32_t> adding, std::vector<int32_t> removing) {
  return Placement{std::move(replicas), PartitionReassignment{std::move(adding), std::move(removing)}};
}

TEST(Reassignment, TargetsAreCheckedAsKafkaChecksThem) {
  std::string message;
  EXPECT_EQ(validate_target({}, {1, 2}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(message, "The manual partition assignment includes an empty replica list.");
  EXPECT_EQ(validate_target({2, 7, 1}, {1, 2}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(message, "The manual partition assignment includes broker 7, but no such broker is registered.");
  EXPECT_EQ(validate_target({2, 1, 2}, {1, 2}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(message, "The manual partition assignment includes the broker 2 more than once.");
  EXPECT_EQ(validate_target({2, 1}, {1, 2}, &message), ErrorCode::NONE);
}

TEST(Reassignment, StartListsTheTargetThenTheReplicasToRemove) {
  EXPECT_EQ(start({{1, 2, 3}}, {3, 4, 5}), moving_placement({3, 4, 5, 1, 2}, {4, 5}, {1, 2}));
  // A reorder has nothing to add or remove.
  EXPECT_EQ(start({{1, 2, 3}}, {3, 1, 2}), (Placement{{3, 1, 2}, std::nullopt}));
  // A new target during a move starts from the replica list of that move:
  // what was being added and is no longer wanted is removed.
  EXPECT_EQ(start(moving_placement({3, 4, 1}, {3, 4}, {1}), {1, 5}), moving_placement({1, 5, 3, 4}, {5}, {3, 4}));
  EXPECT_EQ(original_replicas(moving_placement({3, 4, 1}, {3, 4}, {1})), (std::vector<int32_t>{1}));
  // The same replicas again during a move: it goes on, in the order asked.
  EXPECT_EQ(start(moving_placement({3, 2, 1}, {3}, {1}), {3, 2, 1}), moving_placement({3, 2, 1}, {3}, {1}));
  EXPECT_EQ(start(moving_placement({3, 2, 1}, {3}, {1}), {2, 1, 3}), moving_placement({2, 1, 3}, {3}, {1}));
}

TEST(Reassignment, CompletesOnceEveryAddedReplicaIsInTheIsr) {
  auto placement = moving_placement({3, 2, 1}, {3}, {1});
  EXPECT_FALSE(complete(placement, reassigned_state(1, 4, {1, 2}, 9), {1, 2, 3}));
  auto done = complete(placement, reassigned_state(1, 4, {1, 2, 3}, 9), {1, 2, 3});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->placement, (Placement{{3, 2}, std::nullopt}));
  // The removed leader hands over to the first of the target in the ISR;
  // removing a replica bumps the leader epoch in any case.
  EXPECT_EQ(done->state, reassigned_state(3, 5, {2, 3}, 10));
  auto kept = complete(moving_placement({2, 3, 1}, {3}, {1}), reassigned_state(2, 4, {1, 2, 3}, 9), {1, 2, 3});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->state, reassigned_state(2, 5, {2, 3}, 10));
  // A dead first replica is passed over.
  auto passed = complete(placement, reassigned_state(1, 4, {1, 2, 3}, 9), {1, 2});
  ASSERT_TRUE(passed);
  EXPECT_EQ(passed->state.leader, 2);
}

TEST(Reassignment, ARemovalCompletesWhileAStayingReplicaIsInSync) {
  auto placement = moving_placement({2, 1}, {}, {1});
  EXPECT_FALSE(complete(placement, reassigned_state(1, 4, {1}, 9), {1, 2}));
  auto done = complete(placement, reassigned_state(1, 4, {1, 2}, 9), {1, 2});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->placement.replicas, (std::vector<int32_t>{2}));
  EXPECT_EQ(done->state, reassigned_state(2, 5, {2}, 10));
  EXPECT_FALSE(complete({{1, 2}}, reassigned_state(1, 4, {1, 2}), {1, 2}));  // no move
}

// A move that completes (or is cancelled) while a broker is in controlled
// shutdown does not hand it the leadership, unless no other replica of the
// ISR is live (then it leads until it goes, rather than none).
TEST(Reassignment, ABrokerInControlledShutdownIsPassedOverForTheNewLeader) {
  auto placement = moving_placement({3, 2, 1}, {3}, {1});
  auto done = complete(placement, reassigned_state(1, 4, {1, 2, 3}, 9), {1, 2, 3}, /*stopping=*/{3});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state.leader, 2);
  auto only = complete(placement, reassigned_state(1, 4, {1, 3}, 9), {1, 2, 3}, /*stopping=*/{3});
  ASSERT_TRUE(only);
  EXPECT_EQ(only->state.leader, 3);

  Change out;
  std::string message;
  ASSERT_EQ(revert(moving_placement({3, 4, 1, 2}, {3, 4}, {1, 2}), reassigned_state(3, 5, {1, 2, 3}, 9), {1, 2, 3, 4},
                   /*stopping=*/{1}, false, "t", 0, out, &message),
            ErrorCode::NONE);
  EXPECT_EQ(out.state.leader, 2);
}

TEST(Reassignment, CancellingDropsTheAddedReplicas) {
  std::string message;
  Change out;
  EXPECT_EQ(revert({{1, 2}}, reassigned_state(1, 4, {1, 2}), {1, 2}, {}, false, "t", 0, out, &message),
            ErrorCode::NO_REASSIGNMENT_IN_PROGRESS);
  EXPECT_EQ(message, "No partition reassignment is in progress.");
  ASSERT_EQ(revert(moving_placement({3, 4, 1, 2}, {3, 4}, {1, 2}), reassigned_state(3, 5, {1, 3}, 9), {1, 2, 3, 4}, {},
                   false, "t", 0, out, &message),
            ErrorCode::NONE);
  EXPECT_EQ(out.placement, (Placement{{1, 2}, std::nullopt}));
  EXPECT_EQ(out.state, reassigned_state(1, 6, {1}, 10));
}

TEST(Reassignment, ACancelThatNeedsAnUncleanElectionIsRefusedUnlessAllowed) {
  std::string message;
  Change out;
  auto placement = moving_placement({3, 1}, {3}, {1});
  EXPECT_EQ(revert(placement, reassigned_state(3, 5, {3}, 9), {1, 3}, {}, false, "t", 2, out, &message),
            ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(message,
            "Unable to revert partition assignment for t:2 because it would require an unclean leader "
            "election.");
  ASSERT_EQ(revert(placement, reassigned_state(3, 5, {3}, 9), {1, 3}, {}, true, "t", 2, out, &message),
            ErrorCode::NONE);
  EXPECT_EQ(out.state, reassigned_state(1, 6, {1}, 10));
}

}  // namespace
}  // namespace runnel::cluster::controller
