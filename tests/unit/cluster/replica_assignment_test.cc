// Replica assignment: Kafka's spreading rules, checked as properties over
// many broker counts, replication factors and random starts.
#include "cluster/controller/replica_assignment.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace runnel::cluster::controller {
namespace {

std::vector<BrokerSlot> brokers(int n, int racks = 0) {
  std::vector<BrokerSlot> out;
  for (int i = 0; i < n; ++i) out.push_back({i + 1, racks ? "rack-" + std::to_string(i % racks) : ""});
  return out;
}

TEST(ReplicaAssignment, KafkasLayoutForAFixedStart) {
  // Start 0, shift 0 on brokers 1..3: leaders 1,2,3 and followers right after them.
  Assignment a;
  ASSERT_EQ(assign_replicas(brokers(3), {6, 3, 0, 0, 0}, a, nullptr), ErrorCode::NONE);
  EXPECT_EQ(a, (Assignment{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 3, 2}, {2, 1, 3}, {3, 2, 1}}));
}

TEST(ReplicaAssignment, SpreadsLeadersAndReplicasEvenly) {
  std::mt19937 rng(42);
  for (int n = 1; n <= 7; ++n)
    for (int16_t rf = 1; rf <= n && rf <= 4; ++rf)
      for (int partitions : {1, 3, 12, 50}) {
        Assignment a;
        ASSERT_EQ(assign_replicas(brokers(n), {partitions, rf}, a, nullptr, &rng), ErrorCode::NONE);
        ASSERT_EQ(a.size(), static_cast<size_t>(partitions));
        std::map<int32_t, int> leaders, replicas;
        for (const auto& r : a) {
          ASSERT_EQ(r.size(), static_cast<size_t>(rf));
          EXPECT_EQ(std::set<int32_t>(r.begin(), r.end()).size(), r.size()) << "a broker twice in one partition";
          ++leaders[r[0]];
          for (auto id : r) ++replicas[id];
        }
        // Round-robin leaders: no broker leads more than one partition more than another.
        int most = 0, least = partitions;
        for (int id = 1; id <= n; ++id) most = std::max(most, leaders[id]), least = std::min(least, leaders[id]);
        EXPECT_LE(most - least, 1) << "n=" << n << " rf=" << rf << " partitions=" << partitions;
        int rmost = 0, rleast = partitions * rf;
        for (int id = 1; id <= n; ++id) rmost = std::max(rmost, replicas[id]), rleast = std::min(rleast, replicas[id]);
        EXPECT_LE(rmost - rleast, rf) << "n=" << n << " rf=" << rf << " partitions=" << partitions;
      }
}

TEST(ReplicaAssignment, PutsReplicasOnDifferentRacks) {
  std::mt19937 rng(7);
  for (int n : {3, 4, 6, 9})
    for (int racks : {2, 3})
      for (int16_t rf : {2, 3}) {
        if (rf > n) continue;
        Assignment a;
        ASSERT_EQ(assign_replicas(brokers(n, racks), {24, rf}, a, nullptr, &rng), ErrorCode::NONE);
        for (const auto& r : a) {
          std::set<std::string> used;
          for (auto id : r) used.insert("rack-" + std::to_string((id - 1) % racks));
          EXPECT_EQ(used.size(), std::min<size_t>(r.size(), racks)) << "n=" << n << " racks=" << racks;
        }
      }
}

TEST(ReplicaAssignment, AddedPartitionsContinueTheRoundRobin) {
  Assignment first, more;
  ASSERT_EQ(assign_replicas(brokers(3), {3, 2, 0, 1, 0}, first, nullptr), ErrorCode::NONE);
  ASSERT_EQ(assign_replicas(brokers(3), {3, 2, 3, 1, 0}, more, nullptr), ErrorCode::NONE);
  std::map<int32_t, int> leaders;
  for (const auto& r : first) ++leaders[r[0]];
  for (const auto& r : more) ++leaders[r[0]];
  EXPECT_EQ(leaders, (std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(ReplicaAssignment, RefusesWhatCannotBePlaced) {
  Assignment a;
  std::string message;
  EXPECT_EQ(assign_replicas(brokers(2), {3, 3}, a, &message), ErrorCode::INVALID_REPLICATION_FACTOR);
  EXPECT_EQ(message, "Replication factor: 3 larger than available brokers: 2.");
  EXPECT_EQ(assign_replicas(brokers(2), {0, 1}, a, &message), ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(assign_replicas({}, {1, 1}, a, &message), ErrorCode::INVALID_REPLICATION_FACTOR);
}

TEST(ReplicaAssignment, ValidatesManualAssignments) {
  std::string message;
  EXPECT_EQ(validate_manual_assignment(brokers(3), {{1, 2}, {3, 1}}, &message), ErrorCode::NONE);
  EXPECT_EQ(validate_manual_assignment(brokers(3), {{1, 2}, {3}}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(validate_manual_assignment(brokers(3), {{1, 1}}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(validate_manual_assignment(brokers(3), {{1, 9}}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_NE(message.find("broker 9"), std::string::npos);
  EXPECT_EQ(validate_manual_assignment(brokers(3), {{}}, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
}

}  // namespace
}  // namespace runnel::cluster::controller
