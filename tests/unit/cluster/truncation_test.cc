// The follower truncation rule (KIP-101 / KIP-279) against a brute-force
// oracle: replicas simulated as in-memory logs of (offset -> epoch) with
// random appends, partial replication and (unclean) leader changes, one
// leader per epoch; at the end every follower's answer must leave it a prefix
// of the leader's log without cutting into the prefix they share.
#include "cluster/replication/truncation.h"

#include <gtest/gtest.h>

#include <random>

namespace runnel::cluster::replication {
namespace {
using storage::EpochEndOffset;
using storage::EpochList;

// A replica: the epoch of each record (its offset is the index) and its cache.
struct Replica {
  std::vector<int32_t> records;
  EpochList epochs;

  Offset end() const { return Offset(static_cast<int64_t>(records.size())); }
  void append(int32_t epoch) {
    epochs.assign(LeaderEpoch(epoch), end());
    records.push_back(epoch);
  }
  void truncate(int64_t offset) {
    records.resize(static_cast<size_t>(std::min<int64_t>(offset, static_cast<int64_t>(records.size()))));
    epochs.truncate_from_end(end());
  }
};

// The oracle: the first offset where the two logs differ.
int64_t common_prefix(const Replica& a, const Replica& b) {
  size_t n = 0;
  while (n < a.records.size() && n < b.records.size() && a.records[n] == b.records[n]) ++n;
  return static_cast<int64_t>(n);
}

struct Cluster {
  std::vector<Replica> replicas;
  int leader = 0;
  int32_t epoch = 0;

  // A follower catching up by the oracle (not by the rule under test): cut
  // to the shared prefix, then copy some or all of the leader's suffix.
  void replicate(int follower, std::mt19937& rng) {
    Replica& f = replicas[follower];
    const Replica& l = replicas[leader];
    f.truncate(common_prefix(f, l));
    size_t missing = l.records.size() - f.records.size();
    size_t copy = missing ? rng() % (missing + 1) : 0;
    for (size_t i = 0; i < copy; ++i) f.append(l.records[f.records.size()]);
  }
  // Any replica may become leader (unclean elections included): a new
  // epoch, assigned at its log end before it writes (Kafka's makeLeader).
  void elect(int replica, std::mt19937& rng) {
    leader = replica;
    epoch += 1 + static_cast<int32_t>(rng() % 2);
    replicas[leader].epochs.assign(LeaderEpoch(epoch), replicas[leader].end());
  }
};

TEST(Truncation, KafkaExamplesFromKip101And279) {
  // KIP-101 scenario 1: the follower has an extra record of epoch 0 that the
  // new leader (epoch 1) never had.
  EpochList follower({{LeaderEpoch(0), Offset(0)}});
  EpochList leader({{LeaderEpoch(0), Offset(0)}, {LeaderEpoch(1), Offset(1)}});
  auto ask = [&](LeaderEpoch e) { return leader.end_offset_for(e, Offset(2)); };
  EXPECT_EQ(find_truncation_offset(follower, Offset(2), ask, Offset(0)), Offset(1));
  // KIP-279: the leader answers an epoch the follower does not know.
  EpochList f2({{LeaderEpoch(1), Offset(0)}, {LeaderEpoch(2), Offset(5)}, {LeaderEpoch(4), Offset(8)}});
  EpochList l2({{LeaderEpoch(1), Offset(0)}, {LeaderEpoch(3), Offset(4)}, {LeaderEpoch(5), Offset(9)}});
  int questions = 0;
  auto ask2 = [&](LeaderEpoch e) {
    ++questions;
    return l2.end_offset_for(e, Offset(12));
  };
  // Asks for 4 -> (3, 9); we lack 3: cut to the end of 2 (8), ask for 2 ->
  // (1, 4); we know 1, ending at 5 here: min(5, 4) = 4.
  EXPECT_EQ(find_truncation_offset(f2, Offset(10), ask2, Offset(0)), Offset(4));
  EXPECT_EQ(questions, 2);
  // A leader without epochs (undefined epoch, defined offset), and one with none at all.
  auto old_leader = [](LeaderEpoch) { return EpochEndOffset{kUndefinedEpoch, Offset(3)}; };
  EXPECT_EQ(find_truncation_offset(follower, Offset(5), old_leader, Offset(1)), Offset(3));
  auto empty_leader = [](LeaderEpoch) { return EpochEndOffset{}; };
  EXPECT_EQ(find_truncation_offset(follower, Offset(5), empty_leader, Offset(1)), Offset(1));
}

TEST(Truncation, NeverLeavesADivergentSuffixNorCutsTheCommonPrefix) {
  std::mt19937 rng(20240229);
  int exact = 0, cases = 0, multi_round = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    Cluster c;
    c.replicas.resize(2 + rng() % 2);
    c.elect(0, rng);
    int events = 5 + static_cast<int>(rng() % 40);
    for (int e = 0; e < events; ++e) {
      switch (rng() % 4) {
        case 0:
        case 1: {
          int n = 1 + static_cast<int>(rng() % 4);
          for (int i = 0; i < n; ++i) c.replicas[c.leader].append(c.epoch);
          break;
        }
        case 2: {
          int f = static_cast<int>(rng() % c.replicas.size());
          if (f != c.leader) c.replicate(f, rng);
          break;
        }
        case 3:
          c.elect(static_cast<int>(rng() % c.replicas.size()), rng);
          break;
      }
    }
    const Replica& leader = c.replicas[c.leader];
    for (size_t f = 0; f < c.replicas.size(); ++f) {
      if (static_cast<int>(f) == c.leader) continue;
      Replica follower = c.replicas[f];
      int64_t common = common_prefix(follower, leader);
      int rounds = 0;
      auto ask = [&](LeaderEpoch e) {
        ++rounds;
        return leader.epochs.end_offset_for(e, leader.end());
      };
      Offset to = find_truncation_offset(follower.epochs, follower.end(), ask, Offset(0));
      ASSERT_LE(to, follower.end());
      ASSERT_GE(to.value(), common) << "iter " << iter << " follower " << f;
      follower.truncate(to.value());
      ASSERT_EQ(common_prefix(follower, leader), static_cast<int64_t>(follower.records.size()))
          << "iter " << iter << " follower " << f << ": a divergent suffix survived";
      ++cases;
      if (to.value() == common) ++exact;
      if (rounds > 1) ++multi_round;
    }
  }
  // The rule is exact, and the KIP-279 second question is exercised.
  EXPECT_EQ(exact, cases);
  EXPECT_GT(multi_round, 50);
  EXPECT_GT(cases, 5000);
}

}  // namespace
}  // namespace runnel::cluster::replication
