// Golden bytes for KIP-848's ConsumerGroupHeartbeat (68) v0-1 and
// ConsumerGroupDescribe (69) v0-1, laid out as librdkafka 2.12 writes and
// reads them (rd_kafka_ConsumerGroupHeartbeatRequest and its response parser).
#include <gtest/gtest.h>

#include "protocol/messages.h"
#include "protocol/wire_bytes.h"

namespace runnel::protocol {
namespace {

using namespace wire_bytes;

// clang-format off
TEST(ConsumerGroupHeartbeat, V1JoinAsLibrdkafkaSendsIt) {
  Bytes body = cat({{0x02, 'g'},                 // group id
                    {0x02, 'm'},                 // member id (client-made, KIP-1082)
                    {0, 0, 0, 0},                // member epoch 0: join
                    {0x00},                      // instance id null
                    {0x00},                      // rack id null
                    {0x00, 0x04, 0x93, 0xe0},    // rebalance timeout 300000 (max.poll.interval.ms)
                    {0x02, 0x02, 't'},           // subscribed topic names ["t"]
                    {0x00},                      // regex null (v1)
                    {0x00},                      // server assignor null
                    {0x01},                      // topic partitions: empty, not null
                    {0x00}});                    // tags
  auto req = decode<ConsumerGroupHeartbeatRequest>(body, 1);
  EXPECT_EQ(req.group_id, "g");
  EXPECT_EQ(req.member_id, "m");
  EXPECT_EQ(req.member_epoch, 0);
  EXPECT_FALSE(req.instance_id);
  EXPECT_EQ(req.rebalance_timeout_ms, 300000);
  EXPECT_EQ(req.subscribed_topic_names, (std::vector<std::string>{"t"}));
  EXPECT_FALSE(req.subscribed_topic_regex);
  ASSERT_TRUE(req.topic_partitions);
  EXPECT_TRUE(req.topic_partitions->empty());
  EXPECT_EQ(encode(req, 1), body);
  // v0 has no regex byte.
  Bytes v0 = body;
  v0.erase(v0.begin() + 2 + 2 + 4 + 1 + 1 + 4 + 3);
  EXPECT_EQ(encode(req, 0), v0);
}

TEST(ConsumerGroupHeartbeat, V1SteadyHeartbeatWithOwnedPartitions) {
  Bytes body = cat({{0x02, 'g'}, {0x02, 'm'}, {0, 0, 0, 3},
                    {0x00}, {0x00}, {0xff, 0xff, 0xff, 0xff},  // unchanged: -1
                    {0x00},                                    // topics null: unchanged
                    {0x03, '^', 'a'},                          // regex "^a"
                    {0x08, 'u', 'n', 'i', 'f', 'o', 'r', 'm'},
                    {0x02}, kTopicIdBytes, {0x03, 0, 0, 0, 0, 0, 0, 0, 2}, {0x00},  // owned: t0, t2
                    {0x00}});
  auto req = decode<ConsumerGroupHeartbeatRequest>(body, 1);
  EXPECT_EQ(req.member_epoch, 3);
  EXPECT_EQ(req.rebalance_timeout_ms, -1);
  EXPECT_FALSE(req.subscribed_topic_names);
  EXPECT_EQ(req.subscribed_topic_regex, "^a");
  EXPECT_EQ(req.server_assignor, "uniform");
  ASSERT_TRUE(req.topic_partitions);
  ASSERT_EQ(req.topic_partitions->size(), 1u);
  EXPECT_EQ((*req.topic_partitions)[0].topic_id, kTopicId);
  EXPECT_EQ((*req.topic_partitions)[0].partitions, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(encode(req, 1), body);
}

TEST(ConsumerGroupHeartbeat, ResponseWithAndWithoutAssignment) {
  ConsumerGroupHeartbeatResponse resp;
  resp.member_id = "m";
  resp.member_epoch = 1;
  resp.heartbeat_interval_ms = 5000;
  auto& a = resp.assignment.emplace();
  auto& tp = a.topic_partitions.emplace_back();
  tp.topic_id = kTopicId;
  tp.partitions = {0, 2};
  Bytes with = cat({{0, 0, 0, 0},              // throttle
                    {0, 0},                    // error
                    {0x00},                    // error message null
                    {0x02, 'm'},               // member id
                    {0, 0, 0, 1},              // member epoch
                    {0, 0, 0x13, 0x88},        // heartbeat interval 5000
                    {0x01},                    // assignment present
                    {0x02}, kTopicIdBytes, {0x03, 0, 0, 0, 0, 0, 0, 0, 2}, {0x00},
                    {0x00},                    // assignment tags
                    {0x00}});                  // tags
  EXPECT_EQ(encode(resp, 1), with);
  EXPECT_EQ(decode<ConsumerGroupHeartbeatResponse>(with, 0), resp);
  resp.assignment.reset();
  resp.error_code = 110;  // FENCED_MEMBER_EPOCH
  resp.error_message = "x";
  Bytes without = cat({{0, 0, 0, 0}, {0, 110}, {0x02, 'x'}, {0x02, 'm'}, {0, 0, 0, 1}, {0, 0, 0x13, 0x88},
                       {0xff},                 // assignment null
                       {0x00}});
  EXPECT_EQ(encode(resp, 1), without);
}

TEST(ConsumerGroupDescribe, V1AddsMemberType) {
  Bytes request = cat({{0x02, 0x02, 'g'}, {0x00}, {0x00}});
  auto req = decode<ConsumerGroupDescribeRequest>(request, 1);
  EXPECT_EQ(req.group_ids, (std::vector<std::string>{"g"}));

  ConsumerGroupDescribeResponse resp;
  auto& g = resp.groups.emplace_back();
  g.group_id = "g";
  g.group_state = "Stable";
  g.group_epoch = 3;
  g.assignment_epoch = 3;
  g.assignor_name = "uniform";
  auto& m = g.members.emplace_back();
  m.member_id = "m";
  m.member_epoch = 3;
  m.client_id = "c";
  m.client_host = "/h";
  m.subscribed_topic_names = {"t"};
  auto& tp = m.assignment.topic_partitions.emplace_back();
  tp.topic_id = kTopicId;
  tp.topic_name = "t";
  tp.partitions = {1};
  m.member_type = 1;
  Bytes member_tail = cat({{0x02}, kTopicIdBytes, {0x02, 't'}, {0x02, 0, 0, 0, 1}, {0x00},  // assignment: t-1
                           {0x00},                                                   // assignment tags
                           {0x01}, {0x00},                                           // target: empty
                           {0x01},                                                   // member type (v1)
                           {0x00},                                                   // member tags
                           {0x80, 0, 0, 0},                                          // authorized operations
                           {0x00}, {0x00}});                                         // group, top tags
  Bytes v1 = encode(resp, 1);
  ASSERT_GE(v1.size(), member_tail.size());
  EXPECT_TRUE(std::equal(member_tail.begin(), member_tail.end(), v1.end() - member_tail.size()));
  Bytes v0 = encode(resp, 0);
  EXPECT_EQ(v0.size() + 1, v1.size());
  EXPECT_EQ(decode<ConsumerGroupDescribeResponse>(v1, 1), resp);
}
// clang-format on

}  // namespace
}  // namespace runnel::protocol
