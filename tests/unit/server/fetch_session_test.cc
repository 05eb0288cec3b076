// The leader's fetch sessions (kafka/fetch_session.h): ids, the limit per
// connection, naming and forgetting partitions, the first epochs, the
// sweep's timing, the counts behind the metrics, and a partition's waiter
// marking its entry dirty and waking the parked fetch.
#include "kafka/fetch_session.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>

#include "cluster/partition.h"

namespace runnel {
namespace {

protocol::FetchRequest::FetchPartition at(int32_t partition, int64_t offset) {
  protocol::FetchRequest::FetchPartition p;
  p.partition = partition;
  p.fetch_offset = offset;
  return p;
}

TEST(FetchSessions, IdsAreUniqueAndNonZeroUpToTheLimit) {
  FetchSessions sessions;
  std::set<int32_t> ids;
  for (size_t i = 0; i < FetchSessions::kMaxPerConnection; ++i) {
    FetchSession* s = sessions.create();
    ASSERT_NE(s, nullptr);
    EXPECT_GT(s->id(), 0);
    ids.insert(s->id());
    EXPECT_EQ(sessions.find(s->id()), s);
  }
  EXPECT_EQ(ids.size(), FetchSessions::kMaxPerConnection);
  EXPECT_EQ(sessions.create(), nullptr) << "a connection holds at most kMaxPerConnection";
  sessions.close(*ids.begin());
  EXPECT_EQ(sessions.find(*ids.begin()), nullptr);
  EXPECT_NE(sessions.create(), nullptr);
}

TEST(FetchSession, NamesUpdateAndForgetInOrder) {
  const int64_t sessions_before = FetchSessions::open_sessions();
  const int64_t held_before = FetchSessions::held_partitions();
  {
    FetchSessions sessions;
    FetchSession& s = *sessions.create();
    s.name("a", {}, at(0, 5));
    s.name("b", {}, at(1, 7));
    s.name("a", {}, at(0, 9));  // an update, not a second entry
    ASSERT_EQ(s.entries().size(), 2u);
    EXPECT_EQ(s.entries()[0]->topic, "a");
    EXPECT_EQ(s.entries()[0]->request.fetch_offset, 9);
    EXPECT_TRUE(s.entries()[0]->in_round);
    EXPECT_EQ(FetchSessions::open_sessions(), sessions_before + 1);
    EXPECT_EQ(FetchSessions::held_partitions(), held_before + 2);
    s.forget("a", 0);
    s.forget("a", 3);  // not held: nothing
    ASSERT_EQ(s.entries().size(), 1u);
    EXPECT_EQ(s.entries()[0]->topic, "b");
    EXPECT_EQ(FetchSessions::held_partitions(), held_before + 1);
  }
  EXPECT_EQ(FetchSessions::open_sessions(), sessions_before);
  EXPECT_EQ(FetchSessions::held_partitions(), held_before);
}

TEST(FetchSession, EpochStartsAtOne) {
  FetchSession s(42);
  EXPECT_EQ(s.next_epoch(), 1);  // what follows the full fetch (epoch 0) that opened it
  s.advance_epoch();
  EXPECT_EQ(s.next_epoch(), 2);
}

TEST(FetchSession, SweepIsDueOncePerInterval) {
  FetchSession s(1);
  EXPECT_TRUE(s.sweep_due(1000, 500));
  EXPECT_FALSE(s.sweep_due(1200, 500));
  EXPECT_FALSE(s.sweep_due(1499, 500));
  EXPECT_TRUE(s.sweep_due(1500, 500));
}

TEST(FetchSession, AWaiterMarksItsEntryDirtyAndWakesTheParkedFetch) {
  asio::io_context io;
  FetchSession s(1);
  auto& entry = s.name("t", {}, at(0, 0));
  entry.dirty = false;
  auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::hours(1));
  bool cancelled = false;
  timer->async_wait([&cancelled](const asio::error_code& ec) { cancelled = ec == asio::error::operation_aborted; });
  {
    std::lock_guard lock(s.wake()->mu);
    s.wake()->executor = io.get_executor();
    s.wake()->timer = timer;
  }
  entry.waiter->notify();
  EXPECT_TRUE(entry.dirty.load());
  io.run_for(std::chrono::seconds(1));
  EXPECT_TRUE(cancelled);
}

}  // namespace
}  // namespace runnel
