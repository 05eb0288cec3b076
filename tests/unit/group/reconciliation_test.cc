// Member reconciliation (Kafka's CurrentAssignmentBuilder): revoke before
// assign, unreleased partitions wait for their owner, epochs move as Kafka's.
#include "group/reconciliation.h"

#include <gtest/gtest.h>

namespace runnel::group {
namespace {

const TopicUuid kT = [] {
  TopicUuid u{};
  u[0] = 7;
  return u;
}();

TopicAssignment parts(std::set<int32_t> p) { return p.empty() ? TopicAssignment{} : TopicAssignment{{kT, p}}; }

ConsumerMember stable(int32_t epoch, std::set<int32_t> assigned) {
  ConsumerMember m;
  m.id = "m";
  m.epoch = epoch;
  m.previous_epoch = epoch - 1;
  m.assigned = parts(assigned);
  return m;
}

PartitionEpochFn nobody = [](const TopicUuid&, int32_t) { return -1; };

TEST(Reconcile, StableAtTargetEpochIsUnchanged) {
  auto m = stable(3, {0, 1});
  auto next = reconcile(m, 3, parts({0}), nobody, std::nullopt);
  EXPECT_TRUE(next.same_state(m));
}

TEST(Reconcile, NewPartitionsFreeOfOwnersAreGivenAtOnce) {
  auto m = stable(1, {0});
  auto next = reconcile(m, 2, parts({0, 1}), nobody, parts({0}));
  EXPECT_EQ(next.state, MemberState::Stable);
  EXPECT_EQ(next.epoch, 2);
  EXPECT_EQ(next.previous_epoch, 1);
  EXPECT_EQ(next.assigned, parts({0, 1}));
}

TEST(Reconcile, RevocationFirstKeepsTheEpoch) {
  auto m = stable(1, {0, 1});
  auto next = reconcile(m, 2, parts({0, 2}), nobody, parts({0, 1}));
  EXPECT_EQ(next.state, MemberState::UnrevokedPartitions);
  EXPECT_EQ(next.epoch, 1);
  EXPECT_EQ(next.assigned, parts({0}));
  EXPECT_EQ(next.pending_revocation, parts({1}));

  // Still reporting partition 1: nothing moves.
  auto again = reconcile(next, 2, parts({0, 2}), nobody, parts({0, 1}));
  EXPECT_TRUE(again.same_state(next));
  // Not reporting at all (owned null): assumed still owned.
  EXPECT_TRUE(reconcile(next, 2, parts({0, 2}), nobody, std::nullopt).same_state(next));

  // Revoked: the member moves to the target epoch and gets partition 2.
  auto done = reconcile(next, 2, parts({0, 2}), nobody, parts({0}));
  EXPECT_EQ(done.state, MemberState::Stable);
  EXPECT_EQ(done.epoch, 2);
  EXPECT_EQ(done.assigned, parts({0, 2}));
  EXPECT_TRUE(done.pending_revocation.empty());
}

TEST(Reconcile, RevokedAlreadyWhenNotOwned) {
  // The member already stopped reporting the partition the target takes:
  // no revocation round trip is needed.
  auto m = stable(1, {0, 1});
  auto next = reconcile(m, 2, parts({0}), nobody, parts({0}));
  EXPECT_EQ(next.state, MemberState::Stable);
  EXPECT_EQ(next.epoch, 2);
  EXPECT_EQ(next.assigned, parts({0}));
}

TEST(Reconcile, UnreleasedPartitionsWaitForTheirOwner) {
  int32_t owner_epoch = 4;
  PartitionEpochFn held = [&](const TopicUuid&, int32_t p) { return p == 1 ? owner_epoch : -1; };
  auto m = stable(1, {0});
  auto next = reconcile(m, 2, parts({0, 1, 2}), held, parts({0}));
  EXPECT_EQ(next.state, MemberState::UnreleasedPartitions);
  EXPECT_EQ(next.epoch, 2);
  EXPECT_EQ(next.assigned, parts({0, 2}));  // 1 is still held elsewhere

  owner_epoch = -1;  // released
  auto done = reconcile(next, 2, parts({0, 1, 2}), held, parts({0, 2}));
  EXPECT_EQ(done.state, MemberState::Stable);
  EXPECT_EQ(done.assigned, parts({0, 1, 2}));
}

TEST(Reconcile, NothingToAssignButUnreleased) {
  PartitionEpochFn held = [](const TopicUuid&, int32_t) { return 9; };
  auto m = stable(1, {});
  auto next = reconcile(m, 2, parts({3}), held, parts({}));
  EXPECT_EQ(next.state, MemberState::UnreleasedPartitions);
  EXPECT_EQ(next.epoch, 2);
  EXPECT_TRUE(next.assigned.empty());
}

TEST(Reconcile, OwnPendingRevocationIsNotUnreleased) {
  // The target gives back a partition the member was revoking: it keeps it.
  ConsumerMember m = stable(1, {0});
  m.state = MemberState::UnrevokedPartitions;
  m.pending_revocation = parts({1});
  PartitionEpochFn held = [](const TopicUuid&, int32_t p) { return p <= 1 ? 1 : -1; };
  auto next = reconcile(m, 3, parts({0, 1}), held, parts({0}));
  EXPECT_EQ(next.state, MemberState::Stable);
  EXPECT_EQ(next.assigned, parts({0, 1}));
}

TEST(Reconcile, SubsetAndOwnership) {
  EXPECT_FALSE(is_subset(std::nullopt, parts({0})));
  EXPECT_TRUE(is_subset(parts({}), parts({0})));
  EXPECT_TRUE(is_subset(parts({0}), parts({0, 1})));
  EXPECT_FALSE(is_subset(parts({2}), parts({0, 1})));
  EXPECT_TRUE(owns_any(std::nullopt, parts({0})));
  EXPECT_FALSE(owns_any(parts({1}), parts({0})));
  EXPECT_TRUE(owns_any(parts({0, 1}), parts({0})));
}

}  // namespace
}  // namespace runnel::group
