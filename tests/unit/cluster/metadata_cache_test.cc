// The metadata cache: records decoded from etcd listings and watch events.
#include "cluster/metadata/metadata_cache.h"

#include <gtest/gtest.h>

namespace runnel::cluster::metadata {
namespace {

etcd::KeyValue kv(std::string key, std::string value, int64_t create, int64_t mod) {
  etcd::KeyValue out;
  out.key = std::move(key);
  out.value = std::move(value);
  out.create_revision = create;
  out.mod_revision = mod;
  return out;
}

TEST(Records, BrokerRecordsRoundTripAndRejectNonsense) {
  BrokerRecord b{2, "10.0.0.2", 9093, "east", 0, {}, {}};
  auto back = decode_broker(encode_broker(b));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, b);
  EXPECT_FALSE(decode_broker("{}"));
  EXPECT_FALSE(decode_broker("[]"));
  EXPECT_FALSE(decode_broker("{\"node_id\":1,\"host\":\"h\",\"port\":0}"));
  EXPECT_FALSE(decode_broker("{\"node_id\":-1,\"host\":\"h\",\"port\":1}"));
  EXPECT_FALSE(decode_broker("{\"node_id\":1,\"host\":\"\",\"port\":1}"));
  EXPECT_FALSE(decode_broker("{\"node_id\":1,\"host\":\"h\",\"port\":1,\"rack\":5}"));
  EXPECT_FALSE(decode_broker("{\"node_id\":1e3,\"host\":\"h\",\"port\":1}"));
  // The admin listener's address (the console reads the other brokers' /metrics there).
  BrokerRecord with_admin = b;
  with_admin.admin = BrokerRecord::AdminEndpoint{"https", "10.0.0.2", 9644};
  auto admin_back = decode_broker(encode_broker(with_admin));
  ASSERT_TRUE(admin_back);
  EXPECT_EQ(*admin_back, with_admin);
  EXPECT_FALSE(back->admin);  // absent in records without one
  EXPECT_FALSE(decode_broker(R"({"node_id":1,"host":"h","port":1,"admin":{"scheme":"ftp","host":"h","port":1}})"));
  EXPECT_FALSE(decode_broker(R"({"node_id":1,"host":"h","port":1,"admin":{"scheme":"http","host":"h","port":0}})"));
  EXPECT_FALSE(decode_broker(R"({"node_id":1,"host":"h","port":1,"admin":"http://h:1"})"));
  // A broker in controlled shutdown says so; older records (without the key) are not.
  EXPECT_FALSE(back->in_controlled_shutdown);
  BrokerRecord stopping = b;
  stopping.in_controlled_shutdown = true;
  auto stopping_back = decode_broker(encode_broker(stopping));
  ASSERT_TRUE(stopping_back);
  EXPECT_EQ(*stopping_back, stopping);
  EXPECT_FALSE(decode_broker(R"({"node_id":1,"host":"h","port":1,"in_controlled_shutdown":1})"));
  EXPECT_FALSE(decode_controller("{\"node_id\":\"1\"}"));
  EXPECT_EQ(decode_controller("{\"node_id\":7}")->node_id, 7);
}

TEST(MetadataCache, FollowsBrokersAndTheController) {
  MetadataCache cache(Keys{"/runnel/c1/"});
  etcd::RangeResponse listing;
  listing.revision = 10;
  listing.kvs = {kv("/runnel/c1/brokers/1", encode_broker({1, "h1", 9092, "", 0, {}, {}}), 5, 5),
                 kv("/runnel/c1/brokers/2", encode_broker({2, "h2", 9093, "r", 0, {}, {}}), 7, 7),
                 kv("/runnel/c1/controller", encode_controller({2}), 8, 8)};
  cache.reset(listing);
  ASSERT_EQ(cache.brokers().size(), 2u);
  EXPECT_EQ(cache.broker(NodeId(1))->epoch, 5);
  EXPECT_EQ(cache.broker(NodeId(2))->rack, "r");
  EXPECT_EQ(cache.controller_id(), 2);
  EXPECT_EQ(cache.controller_epoch(), 8);
  EXPECT_EQ(cache.revision(), 10);

  // Broker 2 dies: its registration and its controller claim go with its lease.
  std::vector<etcd::WatchEvent> events(2);
  events[0].type = etcd::WatchEvent::Type::kDelete;
  events[0].kv = kv("/runnel/c1/brokers/2", "", 0, 11);
  events[1].type = etcd::WatchEvent::Type::kDelete;
  events[1].kv = kv("/runnel/c1/controller", "", 0, 11);
  cache.apply(11, events);
  EXPECT_EQ(cache.brokers().size(), 1u);
  EXPECT_EQ(cache.controller_id(), -1);
  EXPECT_EQ(cache.controller_epoch(), 0);

  // Broker 1 takes over; broker 3 joins; a record written by hand that does
  // not decode is ignored; keys of another cluster are not ours.
  std::vector<etcd::WatchEvent> more(4);
  more[0].kv = kv("/runnel/c1/controller", encode_controller({1}), 12, 12);
  more[1].kv = kv("/runnel/c1/brokers/3", encode_broker({3, "h3", 9094, "", 0, {}, {}}), 12, 12);
  more[2].kv = kv("/runnel/c1/brokers/4", "garbage", 12, 12);
  more[3].kv = kv("/runnel/c1/brokers/5", encode_broker({6, "h6", 1, "", 0, {}, {}}), 12, 12);  // id disagrees with key
  cache.apply(12, more);
  EXPECT_EQ(cache.controller_id(), 1);
  EXPECT_EQ(cache.controller_epoch(), 12);
  std::vector<int32_t> ids;
  for (const auto& b : cache.brokers()) ids.push_back(b.node_id);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3}));
  EXPECT_TRUE(cache.wait_for_revision(12, std::chrono::milliseconds(0)));
  EXPECT_FALSE(cache.wait_for_revision(13, std::chrono::milliseconds(1)));
}

TEST(Records, TopicsAndPartitionStatesRoundTrip) {
  TopicRecord t;
  t.id[0] = 0xab;
  t.id[15] = 0x01;
  t.replicas = {{1, 2}, {2, 3}};
  t.configs = {{"retention.ms", "1000"}};
  auto back = decode_topic(encode_topic(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_FALSE(decode_topic("{\"id\":\"00\",\"replicas\":[[1]]}"));
  EXPECT_FALSE(decode_topic("{\"id\":\"000000000000000000000000000000zz\",\"replicas\":[[1]]}"));
  EXPECT_FALSE(decode_topic("{\"id\":\"00000000000000000000000000000000\",\"replicas\":[]}"));
  EXPECT_FALSE(decode_topic("{\"id\":\"00000000000000000000000000000000\",\"replicas\":[[]]}"));
  EXPECT_FALSE(decode_topic("{\"id\":\"00000000000000000000000000000000\",\"replicas\":[[1]],\"configs\":{\"a\":1}}"));
  // A move in progress: adding and removing name replicas of the partition.
  t.replicas = {{1, 2}, {3, 4, 2}};
  t.reassignments[1] = {{3, 4}, {2}};
  back = decode_topic(encode_topic(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  const std::string head = "{\"id\":\"00000000000000000000000000000000\",\"replicas\":[[1,2]],\"reassignments\":";
  EXPECT_TRUE(decode_topic(head + "{\"0\":{\"adding\":[2],\"removing\":[1]}}}"));
  EXPECT_FALSE(decode_topic(head + "{\"1\":{\"adding\":[2],\"removing\":[1]}}}"));   // no partition 1
  EXPECT_FALSE(decode_topic(head + "{\"00\":{\"adding\":[2],\"removing\":[1]}}}"));  // not a plain index
  EXPECT_FALSE(decode_topic(head + "{\"0\":{\"adding\":[3],\"removing\":[1]}}}"));   // not a replica
  EXPECT_FALSE(decode_topic(head + "{\"0\":{\"adding\":[1],\"removing\":[1]}}}"));   // both
  EXPECT_FALSE(decode_topic(head + "{\"0\":{\"adding\":[2]}}}"));
  EXPECT_FALSE(decode_topic(head + "[]}"));
  PartitionState s{2, 5, {2, 3}, 7, 0};
  auto state = decode_partition_state(encode_partition_state(s));
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, s);
  EXPECT_FALSE(decode_partition_state("{\"leader\":1}"));
  // The leader's broker epoch: kept when known, absent (0) in older states.
  s.leader_broker_epoch = 41;
  state = decode_partition_state(encode_partition_state(s));
  ASSERT_TRUE(state);
  EXPECT_EQ(state->leader_broker_epoch, 41);
  state = decode_partition_state("{\"leader\":2,\"leader_epoch\":5,\"isr\":[2],\"partition_epoch\":7}");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->leader_broker_epoch, 0);
  EXPECT_FALSE(decode_partition_state(
      "{\"leader\":2,\"leader_epoch\":5,\"isr\":[2],\"partition_epoch\":7,\"leader_broker_epoch\":-1}"));
}

TEST(MetadataCache, TopicsCarryImplicitInitialPartitionStates) {
  MetadataCache cache(Keys{"/r/c/"});
  TopicRecord t;
  t.replicas = {{1, 2}, {2, 1}};
  etcd::RangeResponse listing;
  listing.revision = 3;
  listing.kvs = {kv("/r/c/topics/orders", encode_topic(t), 2, 2),
                 kv("/r/c/partitions/orders/1", encode_partition_state({1, 1, {1}, 1, 0}), 3, 3)};
  cache.reset(listing);
  auto view = cache.topic("orders");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->mod_revision, 2);
  ASSERT_EQ(view->partitions.size(), 2u);
  EXPECT_EQ(view->partitions[0], PartitionState::initial({1, 2}));
  EXPECT_EQ(view->partitions[1].leader, 1);
  EXPECT_EQ(view->partitions[1].leader_epoch, 1);
  EXPECT_EQ(view->partitions[1].mod_revision, 3);
  EXPECT_FALSE(cache.partition("orders", 2));
  EXPECT_FALSE(cache.partition("nope", 0));
  std::vector<etcd::WatchEvent> gone(2);
  gone[0].type = gone[1].type = etcd::WatchEvent::Type::kDelete;
  gone[0].kv = kv("/r/c/topics/orders", "", 0, 4);
  gone[1].kv = kv("/r/c/partitions/orders/1", "", 0, 4);
  cache.apply(4, gone);
  EXPECT_TRUE(cache.topics().empty());
}

TEST(MetadataCache, AnImplicitStateCarriesItsLeadersRegistrationFromBeforeTheTopic) {
  // Broker 1 registered (revision 2) before the topic was made (5); broker 2
  // registered after it (6): it may have restarted since it got epoch 0.
  MetadataCache cache(Keys{"/r/c/"});
  BrokerRecord b1{1, "h", 9092, "", 0, {}, {}}, b2{2, "h", 9093, "", 0, {}, {}};
  TopicRecord t;
  t.replicas = {{1, 2}, {2, 1}};
  etcd::RangeResponse listing;
  listing.revision = 6;
  listing.kvs = {kv("/r/c/brokers/1", encode_broker(b1), 2, 2), kv("/r/c/topics/orders", encode_topic(t), 5, 5),
                 kv("/r/c/brokers/2", encode_broker(b2), 6, 6)};
  cache.reset(listing);
  auto view = cache.topic("orders");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->partitions[0].leader_broker_epoch, 2);
  EXPECT_EQ(view->partitions[1].leader_broker_epoch, 0);
  EXPECT_EQ(cache.partition("orders", 0)->leader_broker_epoch, 2);
  EXPECT_EQ(cache.broker_epoch(NodeId(2)), 6);
  EXPECT_EQ(cache.broker_epoch(NodeId(9)), 0);  // not live
}

}  // namespace
}  // namespace runnel::cluster::metadata
