// The control plane against a real etcd: two brokers agree on a cluster id,
// see each other, and exactly one is controller at a time.
#include "cluster/control_plane.h"

#include <gtest/gtest.h>

#include "etcd_server.h"

namespace runnel::cluster {
namespace {

using namespace std::chrono_literals;

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdServer::available()) GTEST_SKIP() << "etcd not installed (make deps installs etcd-server)";
    ASSERT_TRUE(server_.start()) << "etcd did not start";
  }
  std::unique_ptr<ControlPlane> make(int32_t node_id) {
    ControlPlaneOptions o;
    o.client = server_.client_options();
    o.node_id = node_id;
    o.session_ttl_seconds = 2;
    o.startup_timeout = 10000ms;
    return std::make_unique<ControlPlane>(o);
  }
  testing::EtcdServer server_;
};

TEST_F(ControlPlaneTest, FirstBrokerNamesTheClusterAndOneControllerAtATime) {
  auto a = make(1), b = make(2);
  std::string id_a, id_b;
  ASSERT_TRUE(a->join_cluster("firstId", id_a).is_ok());
  ASSERT_TRUE(b->join_cluster("secondId", id_b).is_ok());
  EXPECT_EQ(id_a, "firstId");
  EXPECT_EQ(id_b, "firstId");  // the cluster already had a name
  // Between joining and start() (the listeners are open then) the cache is
  // there and empty: a FindCoordinator finds no coordinator, not a null.
  EXPECT_FALSE(a->cache().partition("__consumer_offsets", 0).has_value());
  EXPECT_TRUE(a->cache().brokers().empty());

  ASSERT_TRUE(a->start({1, "127.0.0.1", 9001, "", 0, {}, {}}).is_ok());
  ASSERT_TRUE(b->start({2, "127.0.0.1", 9002, "", 0, {}, {}}).is_ok());
  ASSERT_TRUE(testing::eventually([&] { return a->cache().brokers().size() == 2 && b->cache().brokers().size() == 2; },
                                  10000ms));
  ASSERT_TRUE(testing::eventually([&] { return a->is_controller() != b->is_controller(); }));
  auto* controller = a->is_controller() ? a.get() : b.get();
  auto* other = controller == a.get() ? b.get() : a.get();
  int32_t controller_id = controller == a.get() ? 1 : 2;
  ASSERT_TRUE(testing::eventually([&] { return other->cache().controller_id() == controller_id; }));
  int64_t first_epoch = other->cache().controller_epoch();

  // The controller leaves cleanly: its claim goes with its revoked lease and
  // the other broker takes the role, under a newer controller epoch.
  controller->stop();
  EXPECT_FALSE(controller->is_controller());
  ASSERT_TRUE(testing::eventually([&] { return other->is_controller(); }, 5000ms));
  ASSERT_TRUE(testing::eventually([&] { return other->cache().brokers().size() == 1; }));
  // The cache learns the new claim from etcd's watch, a moment after the
  // election is won (a clean-clone run read epoch 0 in between).
  EXPECT_TRUE(testing::eventually([&] { return other->cache().controller_epoch() > first_epoch; }))
      << other->cache().controller_epoch() << " after " << first_epoch;
}

TEST_F(ControlPlaneTest, ASecondBrokerWithTheSameNodeIdIsRefused) {
  auto a = make(1), twin = make(1);
  std::string id;
  ASSERT_TRUE(a->join_cluster("c", id).is_ok());
  ASSERT_TRUE(a->start({1, "127.0.0.1", 9001, "", 0, {}, {}}).is_ok());
  ControlPlaneOptions o;
  o.client = server_.client_options();
  o.node_id = 1;
  o.session_ttl_seconds = 2;
  o.startup_timeout = 1500ms;
  ControlPlane late(o);
  ASSERT_TRUE(late.join_cluster("c", id).is_ok());
  EXPECT_FALSE(late.start({1, "127.0.0.1", 9009, "", 0, {}, {}}).is_ok());
  // The first registration is untouched.
  ASSERT_TRUE(a->cache().broker(NodeId(1)));
  EXPECT_EQ(a->cache().broker(NodeId(1))->port, 9001);
}

TEST_F(ControlPlaneTest, TopicAdminIsOneFencedWriteSeenByEveryBroker) {
  auto a = make(1), b = make(2), c = make(3);
  std::string id;
  for (auto* cp : {a.get(), b.get(), c.get()}) ASSERT_TRUE(cp->join_cluster("t", id).is_ok());
  ASSERT_TRUE(a->start({1, "127.0.0.1", 9001, "", 0, {}, {}}).is_ok());
  ASSERT_TRUE(b->start({2, "127.0.0.1", 9002, "", 0, {}, {}}).is_ok());
  ASSERT_TRUE(c->start({3, "127.0.0.1", 9003, "", 0, {}, {}}).is_ok());
  // Every broker's cache, not only a's: b checks a manual assignment below
  // against its own view of the registered brokers.
  ASSERT_TRUE(testing::eventually([&] {
    return a->cache().brokers().size() == 3 && b->cache().brokers().size() == 3 && c->cache().brokers().size() == 3;
  }));

  std::string message;
  ASSERT_EQ(a->create_topic("orders", 6, 1, nullptr, {{"retention.ms", "60000"}}, false, &message), ErrorCode::NONE)
      << message;
  auto view = a->cache().topic("orders");  // visible on the creating broker as soon as it answers
  ASSERT_TRUE(view);
  ASSERT_EQ(view->record.replicas.size(), 6u);
  std::map<int32_t, int> leaders;
  for (const auto& p : view->partitions) ++leaders[p.leader];
  EXPECT_EQ(leaders, (std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}}));
  EXPECT_EQ(view->record.configs.at("retention.ms"), "60000");
  ASSERT_TRUE(testing::eventually([&] { return c->cache().topic("orders").has_value(); }));
  EXPECT_EQ(c->cache().topic("orders")->record, view->record);

  // The same name from another broker: exactly one creation wins.
  EXPECT_EQ(b->create_topic("orders", 1, 1, nullptr, {}, false, &message), ErrorCode::TOPIC_ALREADY_EXISTS);
  EXPECT_EQ(b->create_topic("big", 1, 4, nullptr, {}, false, &message), ErrorCode::INVALID_REPLICATION_FACTOR);
  controller::Assignment manual{{3}, {3}};
  ASSERT_EQ(b->create_topic("pinned", 2, -1, &manual, {}, false, &message), ErrorCode::NONE) << message;
  EXPECT_EQ(b->cache().topic("pinned")->partitions[1].leader, 3);
  controller::Assignment unknown{{9}};
  EXPECT_EQ(b->create_topic("bad", 1, -1, &unknown, {}, false, &message), ErrorCode::INVALID_REPLICA_ASSIGNMENT);

  // More partitions, from a broker whose cache may lag: the write is fenced.
  ASSERT_EQ(c->add_partitions("orders", 9, nullptr, &message), ErrorCode::NONE) << message;
  EXPECT_EQ(c->cache().topic("orders")->record.replicas.size(), 9u);
  EXPECT_EQ(c->add_partitions("orders", 9, nullptr, &message), ErrorCode::INVALID_PARTITIONS);
  ASSERT_TRUE(testing::eventually([&] { return a->cache().topic("orders")->record.replicas.size() == 9; }));

  ASSERT_EQ(a->delete_topic("orders", &message), ErrorCode::NONE);
  EXPECT_EQ(a->delete_topic("orders", &message), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  ASSERT_TRUE(testing::eventually([&] { return !b->cache().topic("orders") && !c->cache().topic("orders"); }));
}

}  // namespace
}  // namespace runnel::cluster
