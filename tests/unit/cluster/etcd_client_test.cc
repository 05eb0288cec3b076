// The etcd client, watch and lease keeper against a real etcd started on
// free loopback ports.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "cluster/etcd/client.h"
#include "cluster/etcd/lease_keeper.h"
#include "cluster/etcd/watch.h"
#include "etcd_server.h"

namespace runnel::cluster::etcd {
namespace {

using namespace std::chrono_literals;

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdServer::available()) GTEST_SKIP() << "etcd not installed (make deps installs etcd-server)";
    ASSERT_TRUE(server_.start()) << "etcd did not start";
  }
  testing::EtcdServer server_;
};

TEST_F(EtcdTest, PutRangeAndDeleteUnderAPrefix) {
  Client c(server_.client_options());
  PutResponse p;
  ASSERT_TRUE(c.put("/r/a", "1", 0, &p).is_ok());
  ASSERT_TRUE(c.put("/r/b", std::string("\0\xff", 2)).is_ok());
  ASSERT_TRUE(c.put("/s/c", "3").is_ok());
  RangeResponse r;
  ASSERT_TRUE(c.range_prefix("/r/", r).is_ok());
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/r/a");
  EXPECT_EQ(r.kvs[1].value, std::string("\0\xff", 2));
  EXPECT_GE(r.revision, p.revision + 1);
  DeleteResponse d;
  ASSERT_TRUE(c.delete_range("/r/", prefix_end("/r/"), &d).is_ok());
  EXPECT_EQ(d.deleted, 2);
  ASSERT_TRUE(c.range_prefix("/r/", r).is_ok());
  EXPECT_TRUE(r.kvs.empty());
}

TEST_F(EtcdTest, TxnCreatesOnceAndFencesOnModRevision) {
  Client c(server_.client_options());
  TxnResponse t;
  auto create = [&](const std::string& v) {
    return c.txn({Compare::create_revision("/ctl", 0)}, {Op::put("/ctl", v)}, {Op::range("/ctl")}, t);
  };
  ASSERT_TRUE(create("one").is_ok());
  EXPECT_TRUE(t.succeeded);
  ASSERT_TRUE(create("two").is_ok());
  EXPECT_FALSE(t.succeeded);
  ASSERT_EQ(t.responses.size(), 1u);
  ASSERT_EQ(t.responses[0].kvs.size(), 1u);
  EXPECT_EQ(t.responses[0].kvs[0].value, "one");
  int64_t mod = t.responses[0].kvs[0].mod_revision;
  // A writer that read revision `mod` wins once; a second one holding the same
  // (now stale) revision loses: etcd's stand-in for ZooKeeper's zkVersion.
  ASSERT_TRUE(c.txn({Compare::mod_revision("/ctl", mod)}, {Op::put("/ctl", "three")}, {}, t).is_ok());
  EXPECT_TRUE(t.succeeded);
  ASSERT_TRUE(c.txn({Compare::mod_revision("/ctl", mod)}, {Op::put("/ctl", "four")}, {}, t).is_ok());
  EXPECT_FALSE(t.succeeded);
}

TEST_F(EtcdTest, AKeyUnderARevokedLeaseIsGone) {
  Client c(server_.client_options());
  LeaseGrantResponse g;
  ASSERT_TRUE(c.lease_grant(30, g).is_ok());
  ASSERT_TRUE(c.put("/b/1", "x", g.id).is_ok());
  LeaseKeepAliveResponse k;
  ASSERT_TRUE(c.lease_keepalive(g.id, k).is_ok());
  EXPECT_GT(k.ttl, 0);
  ASSERT_TRUE(c.lease_revoke(g.id).is_ok());
  RangeResponse r;
  ASSERT_TRUE(c.range("/b/1", "", r).is_ok());
  EXPECT_TRUE(r.kvs.empty());
  ASSERT_TRUE(c.lease_keepalive(g.id, k).is_ok());
  EXPECT_LE(k.ttl, 0);
  Status s = c.put("/b/2", "x", g.id);
  EXPECT_EQ(s.code(), Status::Code::kEtcdError) << s.to_string();
  EXPECT_EQ(s.etcd_code(), kGrpcNotFound);
}

TEST_F(EtcdTest, UnreachableEndpointsAreSkipped) {
  auto options = server_.client_options();
  options.endpoints.insert(options.endpoints.begin(), Endpoint{"127.0.0.1", testing::free_port()});
  Client c(options);
  ASSERT_TRUE(c.put("k", "v").is_ok());
  options.endpoints = {Endpoint{"127.0.0.1", testing::free_port()}};
  Client dead(options);
  EXPECT_EQ(dead.put("k", "v").code(), Status::Code::kUnavailable);
}

TEST_F(EtcdTest, KeeperHoldsTheLeaseAndReportsItsRevocation) {
  std::atomic<bool> lost{false};
  LeaseKeeper keeper(server_.client_options(), 2, [&] { lost = true; });
  ASSERT_TRUE(keeper.start().is_ok());
  Client c(server_.client_options());
  ASSERT_TRUE(c.put("/b/1", "x", keeper.id()).is_ok());
  std::this_thread::sleep_for(3500ms);  // past the TTL: only renewals keep the key
  RangeResponse r;
  ASSERT_TRUE(c.range("/b/1", "", r).is_ok());
  EXPECT_EQ(r.kvs.size(), 1u);
  EXPECT_FALSE(lost);
  ASSERT_TRUE(c.lease_revoke(keeper.id()).is_ok());
  EXPECT_TRUE(testing::eventually([&] { return lost.load(); }));
  keeper.stop(false);
}

TEST_F(EtcdTest, KeeperReportsLossWhenEtcdIsSilentForATtl) {
  std::atomic<bool> lost{false};
  LeaseKeeper keeper(server_.client_options(), 2, [&] { lost = true; });
  ASSERT_TRUE(keeper.start().is_ok());
  server_.pause();
  EXPECT_TRUE(testing::eventually([&] { return lost.load(); }, 4000ms));
  server_.resume();
  keeper.stop(false);
}

TEST_F(EtcdTest, AKeeperTakesBackALeaseEtcdKeptAcrossItsRestart) {
  std::atomic<bool> lost{false};
  auto first = std::make_unique<LeaseKeeper>(server_.client_options(), 2, [&] { lost = true; });
  ASSERT_TRUE(first->start().is_ok());
  const int64_t id = first->id();
  Client c(server_.client_options());
  ASSERT_TRUE(c.put("/b/1", "x", id).is_ok());
  server_.kill_hard();
  ASSERT_TRUE(testing::eventually([&] { return lost.load(); }, 4000ms));
  EXPECT_FALSE(first->expired());  // unreachable, not expired: etcd may still hold it
  first->stop(false);
  LeaseKeeper second(server_.client_options(), 2, nullptr);
  EXPECT_EQ(second.resume(id).code(), Status::Code::kUnavailable);  // etcd still down
  ASSERT_TRUE(server_.start());
  ASSERT_TRUE(second.resume(id).is_ok());
  EXPECT_EQ(second.id(), id);
  std::this_thread::sleep_for(3500ms);  // past the TTL: only the renewals keep the key
  RangeResponse r;
  ASSERT_TRUE(c.range("/b/1", "", r).is_ok());
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].lease, id);
  EXPECT_FALSE(second.lost());
  second.stop(/*revoke=*/true);
  // A lease etcd no longer has is not taken back: a new one is needed.
  LeaseKeeper third(server_.client_options(), 2, nullptr);
  auto gone = third.resume(id);
  EXPECT_EQ(gone.code(), Status::Code::kEtcdError);
  EXPECT_EQ(gone.etcd_code(), kGrpcNotFound);
}

// Collects what a watch delivers.
struct Collected {
  std::mutex mu;
  std::vector<std::pair<WatchEvent::Type, std::string>> events;  // type, key=value
  std::vector<int64_t> revisions;
  int compactions = 0;
  size_t size() {
    std::lock_guard l(mu);
    return events.size();
  }
};

std::unique_ptr<Watch> watch_prefix(const testing::EtcdServer& server, const std::string& prefix, int64_t from,
                                    Collected& out, int64_t resume_after_compaction = 0) {
  Watch::Options o;
  o.client = server.client_options();
  o.key = prefix;
  o.range_end = prefix_end(prefix);
  o.start_revision = from;
  o.idle_timeout = 2000ms;
  o.reconnect_backoff = 50ms;
  auto w = std::make_unique<Watch>(
      o,
      [&out](int64_t, std::span<const WatchEvent> events) {
        std::lock_guard l(out.mu);
        for (const auto& e : events) {
          out.events.emplace_back(e.type, e.kv.key + "=" + e.kv.value);
          out.revisions.push_back(e.kv.mod_revision);
        }
      },
      [&out, resume_after_compaction](int64_t) {
        std::lock_guard l(out.mu);
        ++out.compactions;
        return resume_after_compaction;
      });
  w->start();
  return w;
}

TEST_F(EtcdTest, WatchDeliversPutsAndDeletesInOrder) {
  Client c(server_.client_options());
  Collected got;
  auto w = watch_prefix(server_, "/w/", 0, got);
  // The watch is registered once its stream is created; until then a write
  // could precede it. Write a marker until it shows up.
  ASSERT_TRUE(testing::eventually([&] {
    (void)c.put("/w/marker", "");
    return got.size() > 0;
  }));
  ASSERT_TRUE(c.put("/w/a", "1").is_ok());
  ASSERT_TRUE(c.put("/w/a", "2").is_ok());
  ASSERT_TRUE(c.put("/x/ignored", "3").is_ok());
  ASSERT_TRUE(c.delete_range("/w/a").is_ok());
  // Markers written while the watch was being created may still arrive
  // before these: compare what came for /w/a only.
  auto for_a = [&] {
    std::lock_guard l(got.mu);
    std::vector<std::pair<WatchEvent::Type, std::string>> out;
    for (const auto& e : got.events) {
      if (e.second.starts_with("/w/a")) out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(testing::eventually([&] { return for_a().size() >= 3; }));
  w->stop();
  auto events = for_a();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].second, "/w/a=1");
  EXPECT_EQ(events[1].second, "/w/a=2");
  EXPECT_EQ(events[2].first, WatchEvent::Type::kDelete);
  for (const auto& e : got.events) EXPECT_FALSE(e.second.starts_with("/x/"));
}

TEST_F(EtcdTest, WatchResumesAfterEtcdRestartsWithoutLossOrRepeats) {
  Client c(server_.client_options());
  PutResponse first;
  ASSERT_TRUE(c.put("/w/0", "v").is_ok());
  ASSERT_TRUE(c.put("/w/1", "v", 0, &first).is_ok());
  Collected got;
  auto w = watch_prefix(server_, "/w/", first.revision, got);
  ASSERT_TRUE(testing::eventually([&] { return got.size() == 1; }));
  server_.kill_hard();
  ASSERT_TRUE(server_.start());
  for (int i = 2; i < 6; ++i) ASSERT_TRUE(c.put("/w/" + std::to_string(i), "v").is_ok());
  ASSERT_TRUE(testing::eventually([&] { return got.size() >= 5; }, 10000ms));
  w->stop();
  std::lock_guard l(got.mu);
  ASSERT_EQ(got.events.size(), 5u);
  for (size_t i = 1; i < got.revisions.size(); ++i) EXPECT_EQ(got.revisions[i], got.revisions[i - 1] + 1);
}

TEST_F(EtcdTest, WatchFromACompactedRevisionAsksWhereToResume) {
  Client c(server_.client_options());
  PutResponse p;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.put("/w/k", std::to_string(i), 0, &p).is_ok());
  // Compact everything before the last put.
  ASSERT_TRUE(c.compact(p.revision).is_ok());
  Collected got;
  auto w = watch_prefix(server_, "/w/", 2, got, p.revision);
  ASSERT_TRUE(testing::eventually([&] { return got.size() == 1; }));
  w->stop();
  std::lock_guard l(got.mu);
  EXPECT_EQ(got.compactions, 1);
  EXPECT_EQ(got.events[0].second, "/w/k=4");
}

}  // namespace
}  // namespace runnel::cluster::etcd
