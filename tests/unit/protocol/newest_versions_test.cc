// Golden bytes for the versions Kafka 3.9/4.0 serve and runnel advertises
// since issue 16: every field these versions add, encoded and decoded.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "protocol/messages.h"
#include "protocol/wire_bytes.h"

namespace runnel::protocol {
namespace {

using namespace wire_bytes;

bool ends_with(const Bytes& bytes, const Bytes& tail) {
  return bytes.size() >= tail.size() && std::equal(tail.begin(), tail.end(), bytes.end() - tail.size());
}

const Bytes kMinus1x8 = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const Bytes kMinus1x4 = {0xff, 0xff, 0xff, 0xff};

// clang-format off
TEST(NewestVersions, FetchV13RequestNamesTopicsById) {
  Bytes body = cat({kMinus1x4,                 // replica_id -1 (v0-14)
                    {0, 0, 0x01, 0xf4},        // max_wait_ms 500
                    {0, 0, 0, 1},              // min_bytes
                    {0x7f, 0xff, 0xff, 0xff},  // max_bytes
                    {0x01},                    // isolation_level read_committed
                    {0, 0, 0, 0}, kMinus1x4,   // session id, epoch
                    {0x02}, kTopicIdBytes,          // one topic, by id only
                    {0x02, 0, 0, 0, 0},        // one partition: 0
                    kMinus1x4,                 // current_leader_epoch
                    {0, 0, 0, 0, 0, 0, 0, 5},  // fetch_offset
                    kMinus1x4, kMinus1x8,      // last_fetched_epoch, log_start_offset
                    {0, 0x10, 0, 0},           // partition_max_bytes
                    {0x00}, {0x00},            // partition and topic tags
                    {0x01},                    // no forgotten topics
                    {0x01},                    // rack_id ""
                    {0x00}});
  auto req = decode<FetchRequest>(body, 13);
  EXPECT_EQ(req.replica_id, -1);
  EXPECT_EQ(req.isolation_level, 1);
  ASSERT_EQ(req.topics.size(), 1u);
  EXPECT_EQ(req.topics[0].topic_id, kTopicId);
  EXPECT_EQ(req.topics[0].topic, "");  // no name in v13+
  ASSERT_EQ(req.topics[0].partitions.size(), 1u);
  EXPECT_EQ(req.topics[0].partitions[0].fetch_offset, 5);
  EXPECT_EQ(encode(req, 13), body);
  // v14 reads the same.
  EXPECT_EQ(encode(decode<FetchRequest>(body, 14), 14), body);
}

TEST(NewestVersions, FetchV15ReplicaStateAndV17DirectoryIdAreTagged) {
  FetchRequest req;
  req.replica_id = 9;  // not written from v15 on
  req.max_wait_ms = 1;
  auto v15_default = encode(req, 15);
  // v15 starts with max_wait_ms: the old replica_id is gone.
  EXPECT_EQ(Bytes(v15_default.begin(), v15_default.begin() + 4), (Bytes{0, 0, 0, 1}));
  EXPECT_EQ(decode<FetchRequest>(v15_default, 15).replica_id, -1);

  req.replica_state.replica_id = 2;
  req.replica_state.replica_epoch = 7;
  auto bytes = encode(req, 15);
  // The request's tag section: one field, tag 1, 13 bytes: id, epoch, no tags.
  EXPECT_TRUE(ends_with(bytes, {0x01, 0x01, 0x0d, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0x00}));
  auto back = decode<FetchRequest>(bytes, 15);
  EXPECT_EQ(back.replica_state.replica_id, 2);
  EXPECT_EQ(back.replica_state.replica_epoch, 7);
  // v14: a replica_id field and no ReplicaState.
  auto v14 = encode(req, 14);
  EXPECT_EQ(Bytes(v14.begin(), v14.begin() + 4), (Bytes{0, 0, 0, 9}));

  FetchRequest one;
  auto& p = one.topics.emplace_back().partitions.emplace_back();
  p.replica_directory_id = kTopicId;
  auto v17 = encode(one, 17);
  // The partition's tags: tag 0, 16 bytes; then topic tags, forgotten topics, rack, request tags.
  EXPECT_TRUE(ends_with(v17, cat({{0x01, 0x00, 0x10}, kTopicIdBytes, {0x00, 0x01, 0x01, 0x00}})));
  EXPECT_EQ(decode<FetchRequest>(v17, 17).topics[0].partitions[0].replica_directory_id, kTopicId);
  // v16 has no directory id: the partition's tag section is empty.
  EXPECT_TRUE(ends_with(encode(one, 16), {0x00, 0x00, 0x01, 0x01, 0x00}));
}

FetchResponse not_leader_fetch_response() {
  FetchResponse resp;
  auto& t = resp.responses.emplace_back();
  t.topic = "t";  // not written in v13+
  t.topic_id = kTopicId;
  auto& p = t.partitions.emplace_back();
  p.error_code = 6;  // NOT_LEADER_OR_FOLLOWER
  p.high_watermark = -1;
  p.records = Records::of({});
  p.current_leader.leader_id = 2;
  p.current_leader.leader_epoch = 7;
  auto& e = resp.node_endpoints.emplace_back();
  e.node_id = 2;
  e.host = "h";
  e.port = 9093;
  return resp;
}

TEST(NewestVersions, FetchV16ResponseCarriesLeaderAndNodeEndpoints) {
  Bytes partition = cat({{0, 0, 0, 0}, {0, 6}, kMinus1x8,   // index, error, high watermark
                         kMinus1x8, kMinus1x8,              // last stable offset, log start offset
                         {0x01},                            // aborted transactions: []
                         kMinus1x4,                         // preferred read replica
                         {0x01},                            // records: empty
                         {0x01, 0x01, 0x09, 0, 0, 0, 2, 0, 0, 0, 7, 0x00}});  // tag 1: CurrentLeader
  Bytes head = cat({{0, 0, 0, 0}, {0, 0}, {0, 0, 0, 0},     // throttle, error, session
                    {0x02}, kTopicIdBytes, {0x02}, partition, {0x00}});
  Bytes endpoints = {0x01, 0x00, 0x0d,                      // tag 0, 13 bytes
                     0x02, 0, 0, 0, 2, 0x02, 'h', 0, 0, 0x23, 0x85, 0x00, 0x00};
  auto resp = not_leader_fetch_response();
  EXPECT_EQ(encode(resp, 16), cat({head, endpoints}));
  EXPECT_EQ(encode(resp, 17), cat({head, endpoints}));
  EXPECT_EQ(encode(resp, 15), cat({head, {0x00}}));  // no NodeEndpoints before v16

  auto back = decode<FetchResponse>(cat({head, endpoints}), 16);
  ASSERT_EQ(back.responses.size(), 1u);
  EXPECT_EQ(back.responses[0].topic_id, kTopicId);
  EXPECT_EQ(back.responses[0].partitions[0].current_leader.leader_id, 2);
  EXPECT_EQ(back.responses[0].partitions[0].current_leader.leader_epoch, 7);
  ASSERT_EQ(back.node_endpoints.size(), 1u);
  EXPECT_EQ(back.node_endpoints[0].node_id, 2);
  EXPECT_EQ(back.node_endpoints[0].host, "h");
  EXPECT_EQ(back.node_endpoints[0].port, 9093);
  EXPECT_FALSE(back.node_endpoints[0].rack.has_value());
}

TEST(NewestVersions, ProduceV10ResponseCarriesLeaderAndNodeEndpoints) {
  ProduceResponse resp;
  auto& t = resp.responses.emplace_back();
  t.name = "t";
  auto& p = t.partition_responses.emplace_back();
  p.error_code = 6;
  p.base_offset = -1;
  p.current_leader.leader_id = 2;
  p.current_leader.leader_epoch = 7;
  auto& e = resp.node_endpoints.emplace_back();
  e.node_id = 2;
  e.host = "h";
  e.port = 9093;
  e.rack = "r";
  Bytes partition = cat({{0, 0, 0, 0}, {0, 6}, kMinus1x8,   // index, error, base offset
                         kMinus1x8, kMinus1x8,              // log append time, log start offset
                         {0x01}, {0x00}});                  // no record errors, error_message null
  Bytes leader = {0x01, 0x00, 0x09, 0, 0, 0, 2, 0, 0, 0, 7, 0x00};  // tag 0: CurrentLeader
  Bytes endpoints = {0x01, 0x00, 0x0e,                               // tag 0, 14 bytes
                     0x02, 0, 0, 0, 2, 0x02, 'h', 0, 0, 0x23, 0x85, 0x02, 'r', 0x00};
  Bytes v10 = cat({{0x02, 0x02, 't', 0x02}, partition, leader, {0x00}, {0, 0, 0, 0}, endpoints});
  EXPECT_EQ(encode(resp, 10), v10);
  EXPECT_EQ(encode(resp, 11), v10);
  EXPECT_EQ(decode<ProduceResponse>(v10, 11), resp);
  // v9: the same layout without either tagged field.
  EXPECT_EQ(encode(resp, 9), cat({{0x02, 0x02, 't', 0x02}, partition, {0x00}, {0x00}, {0, 0, 0, 0}, {0x00}}));
}

TEST(NewestVersions, ListOffsetsV10RequestHasTimeoutMs) {
  Bytes v9 = cat({kMinus1x4, {0x00},                          // replica_id, isolation_level
                  {0x02, 0x02, 't', 0x02, 0, 0, 0, 0},         // topic "t", partition 0
                  kMinus1x4,                                   // current_leader_epoch
                  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc},  // timestamp -4: earliest local
                  {0x00, 0x00}});
  Bytes v10 = cat({v9, {0, 0, 0x75, 0x30}});
  v9.push_back(0x00);
  v10.push_back(0x00);
  auto req = decode<ListOffsetsRequest>(v10, 10);
  EXPECT_EQ(req.topics[0].partitions[0].timestamp, -4);
  EXPECT_EQ(req.timeout_ms, 30000);
  EXPECT_EQ(encode(req, 10), v10);
  EXPECT_EQ(encode(req, 9), v9);
  EXPECT_EQ(decode<ListOffsetsRequest>(v9, 8).timeout_ms, 0);
}

TEST(NewestVersions, MetadataV13ResponseEndsWithErrorCode) {
  MetadataResponse resp;
  resp.error_code = 1;
  Bytes v12 = {0, 0, 0, 0,     // throttle
               0x01,           // no brokers
               0x00,           // cluster id null
               0xff, 0xff, 0xff, 0xff,  // controller -1
               0x01};          // no topics
  Bytes v13 = cat({v12, {0, 1}, {0x00}});
  v12.push_back(0x00);
  EXPECT_EQ(encode(resp, 13), v13);
  EXPECT_EQ(encode(resp, 12), v12);
  EXPECT_EQ(decode<MetadataResponse>(v13, 13).error_code, 1);
  // The request of v13 is v12's.
  MetadataRequest req;
  EXPECT_EQ(encode(req, 13), encode(req, 12));
}

TEST(NewestVersions, OffsetFetchV9RequestHasMemberIdAndEpoch) {
  Bytes v9 = {0x02, 0x02, 'g',  // one group "g"
              0x02, 'm',        // member_id "m"
              0, 0, 0, 5,       // member_epoch
              0x00,             // topics: null (all)
              0x00,             // group tags
              0x00, 0x00};      // require_stable, tags
  auto req = decode<OffsetFetchRequest>(v9, 9);
  ASSERT_EQ(req.groups.size(), 1u);
  EXPECT_EQ(req.groups[0].member_id, "m");
  EXPECT_EQ(req.groups[0].member_epoch, 5);
  EXPECT_FALSE(req.groups[0].topics.has_value());
  EXPECT_EQ(encode(req, 9), v9);
  EXPECT_EQ(encode(req, 8), (Bytes{0x02, 0x02, 'g', 0x00, 0x00, 0x00, 0x00}));
  auto v8 = decode<OffsetFetchRequest>({0x02, 0x02, 'g', 0x00, 0x00, 0x00, 0x00}, 8);
  EXPECT_FALSE(v8.groups[0].member_id.has_value());
  EXPECT_EQ(v8.groups[0].member_epoch, -1);
  // OffsetCommit v9 is v8's layout.
  OffsetCommitRequest commit;
  commit.group_id = "g";
  commit.generation_id_or_member_epoch = 3;
  EXPECT_EQ(encode(commit, 9), encode(commit, 8));
}

TEST(NewestVersions, ListGroupsV5TypesFilterAndGroupType) {
  Bytes req_bytes = {0x01,                                          // states filter: empty
                     0x02, 0x08, 'c', 'l', 'a', 's', 's', 'i', 'c',  // types filter: ["classic"]
                     0x00};
  auto req = decode<ListGroupsRequest>(req_bytes, 5);
  EXPECT_EQ(req.types_filter, std::vector<std::string>{"classic"});
  EXPECT_EQ(encode(req, 5), req_bytes);
  EXPECT_EQ(encode(req, 4), (Bytes{0x01, 0x00}));

  ListGroupsResponse resp;
  auto& g = resp.groups.emplace_back();
  g.group_id = "g";
  g.protocol_type = "consumer";
  g.group_state = "Stable";
  g.group_type = "classic";
  Bytes v5 = {0, 0, 0, 0, 0, 0, 0x02, 0x02, 'g', 0x09, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
              0x07, 'S', 't', 'a', 'b', 'l', 'e', 0x08, 'c', 'l', 'a', 's', 's', 'i', 'c', 0x00, 0x00};
  EXPECT_EQ(encode(resp, 5), v5);
  EXPECT_EQ(decode<ListGroupsResponse>(v5, 5), resp);
}

TEST(NewestVersions, DescribeGroupsV6ErrorMessage) {
  DescribeGroupsResponse resp;
  auto& g = resp.groups.emplace_back();
  g.error_code = 69;  // GROUP_ID_NOT_FOUND
  g.error_message = "x";
  g.group_id = "g";
  Bytes v6 = {0, 0, 0, 0, 0x02,
              0, 69, 0x02, 'x',        // error code, error message
              0x02, 'g', 0x01, 0x01, 0x01,  // group id, state, protocol type, protocol data
              0x01,                    // no members
              0x80, 0, 0, 0,           // authorized operations
              0x00, 0x00};
  EXPECT_EQ(encode(resp, 6), v6);
  EXPECT_EQ(decode<DescribeGroupsResponse>(v6, 6), resp);
  Bytes v5 = {0, 0, 0, 0, 0x02, 0, 69, 0x02, 'g', 0x01, 0x01, 0x01, 0x01, 0x80, 0, 0, 0, 0x00, 0x00};
  EXPECT_EQ(encode(resp, 5), v5);
}

TEST(NewestVersions, DescribeClusterV2FencedBrokers) {
  Bytes req_bytes = {0x00, 0x01, 0x01, 0x00};  // no authorized ops, brokers, include fenced
  auto req = decode<DescribeClusterRequest>(req_bytes, 2);
  EXPECT_TRUE(req.include_fenced_brokers);
  EXPECT_EQ(encode(req, 2), req_bytes);
  EXPECT_EQ(encode(req, 1), (Bytes{0x00, 0x01, 0x00}));

  DescribeClusterResponse resp;
  resp.cluster_id = "c";
  resp.controller_id = 1;
  auto& b = resp.brokers.emplace_back();
  b.broker_id = 1;
  b.host = "h";
  b.port = 9092;
  b.is_fenced = true;
  Bytes v2 = {0, 0, 0, 0, 0, 0, 0x00,  // throttle, error, message null
              0x01,                    // endpoint type: brokers
              0x02, 'c', 0, 0, 0, 1,   // cluster id, controller
              0x02, 0, 0, 0, 1, 0x02, 'h', 0, 0, 0x23, 0x84, 0x00, 0x01, 0x00,  // broker, fenced
              0x80, 0, 0, 0, 0x00};
  EXPECT_EQ(encode(resp, 2), v2);
  EXPECT_EQ(decode<DescribeClusterResponse>(v2, 2), resp);
}

TEST(NewestVersions, ApiVersionsV4IsV3sLayout) {
  ApiVersionsResponse resp;
  resp.api_keys.push_back({75, 0, 0});
  EXPECT_EQ(encode(resp, 4), encode(resp, 3));
  ApiVersionsRequest req;
  req.client_software_name = "x";
  EXPECT_EQ(encode(req, 4), encode(req, 3));
}

TEST(NewestVersions, DescribeTopicPartitionsV0CursorIsANullableStruct) {
  Bytes with_cursor = {0x02, 0x02, 't', 0x00,   // topics: ["t"]
                       0, 0, 0, 2,              // response_partition_limit
                       0x01, 0x02, 't', 0, 0, 0, 1, 0x00,  // cursor: present, "t", 1
                       0x00};
  auto req = decode<DescribeTopicPartitionsRequest>(with_cursor, 0);
  ASSERT_EQ(req.topics.size(), 1u);
  EXPECT_EQ(req.response_partition_limit, 2);
  ASSERT_TRUE(req.cursor.has_value());
  EXPECT_EQ(req.cursor->topic_name, "t");
  EXPECT_EQ(req.cursor->partition_index, 1);
  EXPECT_EQ(encode(req, 0), with_cursor);

  DescribeTopicPartitionsRequest plain;
  EXPECT_EQ(plain.response_partition_limit, 2000);
  Bytes null_cursor = {0x01, 0, 0, 0x07, 0xd0, 0xff, 0x00};  // no topics, 2000, cursor null
  EXPECT_EQ(encode(plain, 0), null_cursor);
  EXPECT_FALSE(decode<DescribeTopicPartitionsRequest>(null_cursor, 0).cursor.has_value());

  DescribeTopicPartitionsResponse resp;
  auto& t = resp.topics.emplace_back();
  t.name = "t";
  t.topic_id = kTopicId;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 1;
  p.leader_id = 1;
  p.leader_epoch = 0;
  p.replica_nodes = {1};
  p.isr_nodes = {1};
  p.eligible_leader_replicas.emplace();  // empty, as Kafka answers without ELR
  resp.next_cursor = DescribeTopicPartitionsResponse::Cursor{};
  resp.next_cursor->topic_name = "t";
  resp.next_cursor->partition_index = 2;
  Bytes bytes = cat({{0, 0, 0, 0, 0x02, 0, 0, 0x02, 't'}, kTopicIdBytes,
                     {0x00,                                 // is_internal
                      0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0,  // partition 1, leader 1, epoch 0
                      0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1,   // replicas, isr
                      0x01, 0x00, 0x01,                     // elr [], last known elr null, offline []
                      0x00,                                 // partition tags
                      0x80, 0, 0, 0, 0x00,                  // authorized operations, topic tags
                      0x01, 0x02, 't', 0, 0, 0, 2, 0x00,    // next cursor
                      0x00}});
  EXPECT_EQ(encode(resp, 0), bytes);
  EXPECT_EQ(decode<DescribeTopicPartitionsResponse>(bytes, 0), resp);
  // A cursor marker without its struct is refused.
  EXPECT_THROW(decode<DescribeTopicPartitionsRequest>({0x01, 0, 0, 0, 1, 0x01}, 0), DecodeError);
}
// clang-format on

}  // namespace
}  // namespace runnel::protocol
