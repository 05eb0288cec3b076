// The server-side assignors of KIP-848 consumer groups: balance, stickiness,
// subscriptions honoured, determinism.
#include "group/assignors.h"

#include <gtest/gtest.h>

namespace runnel::group {
namespace {

TopicUuid id(uint8_t n) {
  TopicUuid u{};
  u[15] = n;
  return u;
}

std::map<std::string, SubscribedTopic> topics(std::initializer_list<std::pair<std::string, int32_t>> list) {
  std::map<std::string, SubscribedTopic> out;
  uint8_t n = 1;
  for (const auto& [name, parts] : list) out[name] = SubscribedTopic{id(n++), name, parts};
  return out;
}

AssignorMember member(std::string id, std::set<std::string> subscribed, TopicAssignment previous = {}) {
  AssignorMember m;
  m.member_id = std::move(id);
  m.topics = std::move(subscribed);
  m.previous = std::move(previous);
  return m;
}

// Every partition of the subscribed topics is assigned exactly once.
void expect_complete(const std::map<std::string, TopicAssignment>& a, const std::map<std::string, SubscribedTopic>& t) {
  std::map<std::pair<TopicUuid, int32_t>, int> seen;
  for (const auto& [_, assignment] : a)
    for (const auto& [topic, parts] : assignment)
      for (int32_t p : parts) ++seen[{topic, p}];
  size_t total = 0;
  for (const auto& [_, topic] : t) {
    total += topic.partitions;
    for (int32_t p = 0; p < topic.partitions; ++p) EXPECT_EQ((seen[{topic.id, p}]), 1) << topic.name << "-" << p;
  }
  EXPECT_EQ(seen.size(), total);
}

TEST(UniformAssignor, ThreeMembersThreePartitionsOneEach) {
  auto t = topics({{"t", 3}});
  auto a = assign_uniform({member("a", {"t"}), member("b", {"t"}), member("c", {"t"})}, t);
  ASSERT_EQ(a.size(), 3u);
  for (const auto& [m, assignment] : a) EXPECT_EQ(partition_count(assignment), 1u) << m;
  expect_complete(a, t);
}

TEST(UniformAssignor, BalancedWithinOne) {
  auto t = topics({{"t", 7}, {"u", 3}});
  auto a = assign_uniform({member("a", {"t", "u"}), member("b", {"t", "u"}), member("c", {"t", "u"})}, t);
  size_t lo = 100, hi = 0;
  for (const auto& [_, assignment] : a) {
    lo = std::min(lo, partition_count(assignment));
    hi = std::max(hi, partition_count(assignment));
  }
  EXPECT_LE(hi - lo, 1u);
  expect_complete(a, t);
}

TEST(UniformAssignor, StickyWhenAMemberLeaves) {
  auto t = topics({{"t", 6}});
  auto first = assign_uniform({member("a", {"t"}), member("b", {"t"}), member("c", {"t"})}, t);
  auto second = assign_uniform({member("a", {"t"}, first["a"]), member("b", {"t"}, first["b"])}, t);
  // a and b keep everything they had and share c's two partitions.
  for (const auto& m : {"a", "b"})
    for (const auto& [topic, parts] : first[m])
      for (int32_t p : parts) EXPECT_TRUE(second[m][topic].count(p)) << m << " lost " << p;
  EXPECT_EQ(partition_count(second["a"]), 3u);
  EXPECT_EQ(partition_count(second["b"]), 3u);
  expect_complete(second, t);
}

TEST(UniformAssignor, StickyWhenAMemberJoins) {
  auto t = topics({{"t", 4}});
  auto first = assign_uniform({member("a", {"t"}), member("b", {"t"})}, t);
  auto second = assign_uniform({member("a", {"t"}, first["a"]), member("b", {"t"}, first["b"]), member("c", {"t"})}, t);
  // The newcomer takes partitions from the others; nobody swaps.
  size_t moved = 0;
  for (const auto& m : {"a", "b"})
    for (const auto& [topic, parts] : first[m])
      for (int32_t p : parts) moved += second[m][topic].count(p) ? 0 : 1;
  EXPECT_EQ(moved, 1u);
  EXPECT_EQ(partition_count(second["c"]), 1u);
  expect_complete(second, t);
}

TEST(UniformAssignor, HeterogeneousSubscriptions) {
  auto t = topics({{"t", 4}, {"u", 2}});
  auto a = assign_uniform({member("a", {"t"}), member("b", {"t", "u"}), member("c", {"u"})}, t);
  for (const auto& [topic, parts] : a["a"]) EXPECT_EQ(topic, t["t"].id);
  for (const auto& [topic, parts] : a["c"]) EXPECT_EQ(topic, t["u"].id);
  expect_complete(a, t);
  EXPECT_EQ(partition_count(a["a"]) + partition_count(a["b"]) + partition_count(a["c"]), 6u);
  EXPECT_GE(partition_count(a["a"]), 2u);
  EXPECT_GE(partition_count(a["c"]), 1u);
}

TEST(UniformAssignor, MoreMembersThanPartitions) {
  auto t = topics({{"t", 2}});
  auto a = assign_uniform({member("a", {"t"}), member("b", {"t"}), member("c", {"t"})}, t);
  ASSERT_EQ(a.size(), 3u);  // every member has an entry, possibly empty
  expect_complete(a, t);
}

TEST(UniformAssignor, UnknownTopicAndShrunkPartitionsAreDropped) {
  auto t = topics({{"t", 2}});
  TopicAssignment stale{{t["t"].id, {0, 1, 5}}, {id(99), {0}}};
  auto a = assign_uniform({member("a", {"t", "gone"}, stale)}, t);
  EXPECT_EQ(a["a"], (TopicAssignment{{t["t"].id, {0, 1}}}));
}

TEST(UniformAssignor, Deterministic) {
  auto t = topics({{"t", 5}, {"u", 5}});
  std::vector<AssignorMember> ms = {member("z", {"t", "u"}), member("a", {"t"}), member("m", {"u"})};
  auto first = assign_uniform(ms, t);
  std::reverse(ms.begin(), ms.end());
  EXPECT_EQ(first, assign_uniform(ms, t));
}

TEST(RangeAssignor, ContiguousRangesPerTopicInMemberOrder) {
  auto t = topics({{"t", 5}});
  auto a = assign_range({member("b", {"t"}), member("a", {"t"})}, t);
  EXPECT_EQ(a["a"], (TopicAssignment{{t["t"].id, {0, 1, 2}}}));
  EXPECT_EQ(a["b"], (TopicAssignment{{t["t"].id, {3, 4}}}));
}

TEST(RangeAssignor, OnlySubscribedMembers) {
  auto t = topics({{"t", 2}, {"u", 2}});
  auto a = assign_range({member("a", {"t"}), member("b", {"t", "u"})}, t);
  EXPECT_EQ(a["a"], (TopicAssignment{{t["t"].id, {0}}}));
  EXPECT_EQ(a["b"], (TopicAssignment{{t["t"].id, {1}}, {t["u"].id, {0, 1}}}));
  expect_complete(a, t);
}

TEST(Assignors, ByName) {
  EXPECT_TRUE(is_known_assignor("uniform"));
  EXPECT_TRUE(is_known_assignor("range"));
  EXPECT_FALSE(is_known_assignor("sticky"));
  auto t = topics({{"t", 4}});
  auto r = assign("range", {member("a", {"t"}), member("b", {"t"})}, t);
  EXPECT_EQ(r["a"], (TopicAssignment{{t["t"].id, {0, 1}}}));
}

}  // namespace
}  // namespace runnel::group
