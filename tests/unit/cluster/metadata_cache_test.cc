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
  BrokerRecord b{2, "10.0.0.2", 9093, "east", 0};
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
  EXPECT_FALSE(decode_controller("{\"node_id\":\"1\"}"));
  EXPECT_EQ(decode_controller("{\"node_id\":7}")->node_id, 7);
}

TEST(MetadataCache, FollowsBrokersAndTheController) {
  MetadataCache cache(Keys{"/runnel/c1/"});
  etcd::RangeResponse listing;
  listing.revision = 10;
  listing.kvs = {kv("/runnel/c1/brokers/1", encode_broker({1, "h1", 9092, "", 0}), 5, 5),
                 kv("/runnel/c1/brokers/2", encode_broker({2, "h2", 9093, "r", 0}), 7, 7),
                 kv("/runnel/c1/controller", encode_controller({2}), 8, 8)};
  cache.reset(listing);
  ASSERT_EQ(cache.brokers().size(), 2u);
  EXPECT_EQ(cache.broker(1)->epoch, 5);
  EXPECT_EQ(cache.broker(2)->rack, "r");
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
  more[1].kv = kv("/runnel/c1/brokers/3", encode_broker({3, "h3", 9094, "", 0}), 12, 12);
  more[2].kv = kv("/runnel/c1/brokers/4", "garbage", 12, 12);
  more[3].kv = kv("/runnel/c1/brokers/5", encode_broker({6, "h6", 1, "", 0}), 12, 12);  // id disagrees with key
  cache.apply(12, more);
  EXPECT_EQ(cache.controller_id(), 1);
  EXPECT_EQ(cache.controller_epoch(), 12);
  std::vector<int32_t> ids;
  for (const auto& b : cache.brokers()) ids.push_back(b.node_id);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3}));
  EXPECT_TRUE(cache.wait_for_revision(12, std::chrono::milliseconds(0)));
  EXPECT_FALSE(cache.wait_for_revision(13, std::chrono::milliseconds(1)));
}

}  // namespace
}  // namespace runnel::cluster::metadata
