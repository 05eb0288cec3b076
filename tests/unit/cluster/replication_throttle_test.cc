// The replication throttle's two sides, measured as Kafka's quotas.
#include "cluster/replication/replication_throttle.h"

#include <gtest/gtest.h>

namespace runnel::cluster::replication {
namespace {

using Side = ReplicationThrottle::Side;

TEST(ReplicationThrottle, UnthrottledIsNeverExceeded) {
  ReplicationThrottle t;
  t.record(Side::kLeader, int64_t{1} << 40, 1000);
  EXPECT_FALSE(t.exceeded(Side::kLeader, 1000));
  EXPECT_EQ(t.rate_limit(Side::kFollower), ReplicationThrottle::kUnthrottled);
}

TEST(ReplicationThrottle, EachSideHasItsOwnRate) {
  ReplicationThrottle t;
  t.set_rate(Side::kFollower, 1000);  // over 11 one-second windows: a burst of ~10 s worth
  t.record(Side::kFollower, 5000, 1000);
  EXPECT_FALSE(t.exceeded(Side::kFollower, 1000));
  t.record(Side::kFollower, 6000, 1100);
  EXPECT_TRUE(t.exceeded(Side::kFollower, 1100));
  EXPECT_FALSE(t.exceeded(Side::kLeader, 1100));
  // The windows age out: back under the rate.
  EXPECT_FALSE(t.exceeded(Side::kFollower, 1100 + 12000));
  // Lifted: not exceeded whatever was measured.
  t.record(Side::kFollower, 1000000, 20000);
  t.set_rate(Side::kFollower, ReplicationThrottle::kUnthrottled);
  EXPECT_FALSE(t.exceeded(Side::kFollower, 20000));
}

}  // namespace
}  // namespace runnel::cluster::replication
