// Hand-checked encodings: requests as real clients send them, flexible
// responses with tagged fields, and malformed input the decoder must refuse.
#include <gtest/gtest.h>

#include <string>

#include "protocol/headers.h"
#include "protocol/messages.h"
#include "protocol/wire_bytes.h"

namespace runnel::protocol {
namespace {

using namespace wire_bytes;

void append(std::vector<uint8_t>& v, std::string_view s) { v.insert(v.end(), s.begin(), s.end()); }

TEST(Golden, ApiVersionsV3RequestFromLibrdkafka) {
  // Header v2: key 18, version 3, correlation id 1, client id "rdkafka"
  // (classic string), empty tags; body: compact strings, empty tags.
  std::vector<uint8_t> frame = {0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x07};
  append(frame, "rdkafka");
  frame.push_back(0x00);
  frame.push_back(0x0b);
  append(frame, "librdkafka");
  frame.push_back(0x06);
  append(frame, "2.0.2");
  frame.push_back(0x00);

  Reader r(frame);
  RequestHeader h;
  ASSERT_EQ(request_header_version(18, 3), 2);
  h.read(r, 2);
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 3);
  EXPECT_EQ(h.correlation_id, 1);
  EXPECT_EQ(h.client_id, "rdkafka");
  ApiVersionsRequest req;
  req.read(r, 3);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(req.client_software_name, "librdkafka");
  EXPECT_EQ(req.client_software_version, "2.0.2");

  Writer w;
  h.write(w, 2);
  req.write(w, 3);
  EXPECT_EQ(std::move(w).finish().buffer, frame);
}

TEST(Golden, ApiVersionsV3ResponseWithTaggedField) {
  ApiVersionsResponse resp;
  resp.api_keys.push_back({18, 0, 3});
  std::vector<uint8_t> expected = {0x00, 0x00,                                // error_code
                                   0x02, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03,  // one api, compact array
                                   0x00,                                      // its tags
                                   0x00, 0x00, 0x00, 0x00,                    // throttle_time_ms
                                   0x00};                                     // no tagged fields
  EXPECT_EQ(encode(resp, 3), expected);

  resp.finalized_features_epoch = 5;  // non-default: tag 1, 8 bytes
  expected.back() = 0x01;
  for (uint8_t b : {0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05}) expected.push_back(b);
  EXPECT_EQ(encode(resp, 3), expected);
  EXPECT_EQ(decode<ApiVersionsResponse>(expected, 3), resp);

  // v0: no throttle time, no tags, classic array.
  EXPECT_EQ(encode(resp, 0), (std::vector<uint8_t>{0, 0, 0, 0, 0, 1, 0x00, 0x12, 0, 0, 0, 3}));
  EXPECT_EQ(response_header_version(18, 3), 0);
  EXPECT_EQ(response_header_version(3, 9), 1);
  EXPECT_EQ(response_header_version(3, 8), 0);
}

TEST(Golden, UnknownTagsAreSkipped) {
  std::vector<uint8_t> body = {0x01, 0x01, 0x01, 0x07, 0x02, 0xaa, 0xbb};  // "", "", tag 7 of 2 bytes
  auto req = decode<ApiVersionsRequest>(body, 3);
  EXPECT_EQ(req.client_software_name, "");
}

TEST(Golden, MetadataV1Request) {
  std::vector<uint8_t> bytes = {0x00, 0x00, 0x00, 0x01, 0x00, 0x05};
  append(bytes, "topic");
  auto req = decode<MetadataRequest>(bytes, 1);
  ASSERT_TRUE(req.topics.has_value());
  ASSERT_EQ(req.topics->size(), 1u);
  EXPECT_EQ((*req.topics)[0].name, "topic");
  EXPECT_EQ(encode(req, 1), bytes);

  // Null topics (all topics) in v1; kafkajs sends this for [].
  auto all = decode<MetadataRequest>({0xff, 0xff, 0xff, 0xff}, 1);
  EXPECT_FALSE(all.topics.has_value());
  EXPECT_EQ(encode(all, 1), (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(all.allow_auto_topic_creation);
}

// Byte arrays are laid out one field per line.
// clang-format off
TEST(Golden, ProduceV7Request) {
  std::vector<uint8_t> bytes = {0xff, 0xff,              // transactional_id null
                                0xff, 0xff,              // acks -1
                                0x00, 0x00, 0x75, 0x30,  // timeout 30000
                                0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',
                                0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // partition 2
                                0x00, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};
  auto req = decode<ProduceRequest>(bytes, 7);
  EXPECT_FALSE(req.transactional_id.has_value());
  EXPECT_EQ(req.acks, -1);
  EXPECT_EQ(req.timeout_ms, 30000);
  ASSERT_EQ(req.topic_data.size(), 1u);
  EXPECT_EQ(req.topic_data[0].name, "t");
  ASSERT_EQ(req.topic_data[0].partition_data.size(), 1u);
  const auto& p = req.topic_data[0].partition_data[0];
  EXPECT_EQ(p.index, 2);
  ASSERT_FALSE(p.records.is_null);
  ASSERT_EQ(p.records.memory.size(), 4u);
  EXPECT_EQ(p.records.memory.data(), bytes.data() + bytes.size() - 4);  // a view, not a copy
  EXPECT_EQ(encode(req, 7), bytes);
}
// clang-format on

TEST(Golden, FetchV12ClusterIdIsTagged) {
  FetchRequest req;
  req.cluster_id = "c";
  auto bytes = encode(req, 12);
  // ... then the tag section: one field, tag 0, 2 bytes: compact string "c".
  std::vector<uint8_t> tail = {0x01, 0x00, 0x02, 0x02, 'c'};
  ASSERT_GE(bytes.size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), bytes.end() - tail.size()));
  EXPECT_EQ(decode<FetchRequest>(bytes, 12).cluster_id, "c");
}

// clang-format off
TEST(Malformed, NegativeLengthsAreRejected) {
  // Metadata v0: topics array of length -2.
  EXPECT_THROW(decode<MetadataRequest>({0xff, 0xff, 0xff, 0xfe}, 0), DecodeError);
  // Metadata v1: one topic whose name has length -5.
  EXPECT_THROW(decode<MetadataRequest>({0, 0, 0, 1, 0xff, 0xfb}, 1), DecodeError);
  // Produce v3: records length -2.
  std::vector<uint8_t> produce = {0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't',
                                  0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe};
  EXPECT_THROW(decode<ProduceRequest>(produce, 3), DecodeError);
}
// clang-format on

TEST(Malformed, LengthsBeyondTheFrameAreRejected) {
  // An array claiming a billion topics in a 4-byte frame.
  EXPECT_THROW(decode<MetadataRequest>({0x3b, 0x9a, 0xca, 0x00}, 1), DecodeError);
  // A compact string longer than what is left.
  EXPECT_THROW(decode<ApiVersionsRequest>({0x10, 'a'}, 3), DecodeError);
  // A tagged field whose size runs past the end.
  EXPECT_THROW(decode<ApiVersionsRequest>({0x01, 0x01, 0x01, 0x00, 0x09, 0x01}, 3), DecodeError);
}

TEST(Golden, OffsetForLeaderEpochV4AndV2) {
  // v4 (flexible), as librdkafka validates a consumer position (KIP-320):
  // replica_id -1, one topic "t", partition 0, current epoch 0, epoch 0.
  std::vector<uint8_t> v4 = {0xff, 0xff, 0xff, 0xff, 0x02, 0x02, 't', 0x02, 0,    0,    0,   0,
                             0,    0,    0,    0,    0,    0,    0,   0,    0x00, 0x00, 0x00};
  auto req = decode<OffsetForLeaderEpochRequest>(v4, 4);
  EXPECT_EQ(req.replica_id, -1);
  ASSERT_EQ(req.topics.size(), 1u);
  EXPECT_EQ(req.topics[0].topic, "t");
  ASSERT_EQ(req.topics[0].partitions.size(), 1u);
  EXPECT_EQ(req.topics[0].partitions[0].current_leader_epoch, 0);
  EXPECT_EQ(req.topics[0].partitions[0].leader_epoch, 0);
  EXPECT_EQ(encode(req, 4), v4);
  // v2: no replica_id, classic strings and arrays, current_leader_epoch.
  std::vector<uint8_t> v2 = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5};
  auto old = decode<OffsetForLeaderEpochRequest>(v2, 2);
  EXPECT_EQ(old.replica_id, -2);  // the default when absent
  EXPECT_EQ(old.topics[0].partitions[0].partition, 3);
  EXPECT_EQ(old.topics[0].partitions[0].current_leader_epoch, -1);
  EXPECT_EQ(old.topics[0].partitions[0].leader_epoch, 5);

  OffsetForLeaderEpochResponse resp;
  auto& t = resp.topics.emplace_back();
  t.topic = "t";
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.leader_epoch = 0;
  p.end_offset = 7;
  std::vector<uint8_t> out4 = {0, 0, 0, 0, 0x02, 0x02, 't', 0x02, 0, 0, 0, 0,    0,    0,   0,
                               0, 0, 0, 0, 0,    0,    0,   0,    0, 0, 7, 0x00, 0x00, 0x00};
  EXPECT_EQ(encode(resp, 4), out4);
  // v0: no throttle time, no leader epoch: error, partition, end offset.
  std::vector<uint8_t> out0 = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  EXPECT_EQ(encode(resp, 0), out0);
}

TEST(Golden, InitProducerIdV4AsLibrdkafkaSendsIt) {
  // Flexible: null compact transactional id (0), timeout, producer id and
  // epoch -1 (no KIP-360 bump), empty tags.
  std::vector<uint8_t> body = {0x00, 0x00, 0x00, 0xea, 0x60, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
  auto req = decode<InitProducerIdRequest>(body, 4);
  EXPECT_FALSE(req.transactional_id.has_value());
  EXPECT_EQ(req.transaction_timeout_ms, 60000);
  EXPECT_EQ(req.producer_id, -1);
  EXPECT_EQ(req.producer_epoch, -1);
  EXPECT_EQ(encode(req, 4), body);
  // v1, not flexible: a null classic string is length -1.
  std::vector<uint8_t> v1 = {0xff, 0xff, 0x00, 0x00, 0xea, 0x60};
  EXPECT_FALSE(decode<InitProducerIdRequest>(v1, 1).transactional_id.has_value());

  InitProducerIdResponse resp;
  resp.producer_id = 1000;
  resp.producer_epoch = 0;
  EXPECT_EQ(encode(resp, 4), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0x00}));
  EXPECT_EQ(encode(resp, 0), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0}));
}

TEST(Golden, DescribeProducersV0) {
  // Topic "t", partitions [0]: compact string, compact array, tags.
  std::vector<uint8_t> body = {0x02, 0x02, 't', 0x02, 0, 0, 0, 0, 0x00, 0x00};
  auto req = decode<DescribeProducersRequest>(body, 0);
  ASSERT_EQ(req.topics.size(), 1u);
  EXPECT_EQ(req.topics[0].name, "t");
  EXPECT_EQ(req.topics[0].partition_indexes, std::vector<int32_t>{0});
  EXPECT_EQ(encode(req, 0), body);
}

TEST(Golden, UserScramCredentialsV0) {
  // Describe: users null (every user); then ["u"].
  auto all = decode<DescribeUserScramCredentialsRequest>({0x00, 0x00}, 0);
  EXPECT_FALSE(all.users.has_value());
  std::vector<uint8_t> one = {0x02, 0x02, 'u', 0x00, 0x00};
  auto named = decode<DescribeUserScramCredentialsRequest>(one, 0);
  ASSERT_TRUE(named.users.has_value());
  ASSERT_EQ(named.users->size(), 1u);
  EXPECT_EQ((*named.users)[0].name, "u");
  EXPECT_EQ(encode(named, 0), one);
  // Alter: delete ("u", SCRAM-SHA-256); upsert ("v", SCRAM-SHA-512, 4096
  // iterations, salt "s", salted password "p").
  std::vector<uint8_t> alter = {0x02, 0x02, 'u',  0x01, 0x00,                    // deletions
                                0x02, 0x02, 'v',  0x02, 0x00, 0x00, 0x10, 0x00,  // name, mechanism, iterations
                                0x02, 's',  0x02, 'p',  0x00,                    // salt, salted password, tags
                                0x00};
  auto req = decode<AlterUserScramCredentialsRequest>(alter, 0);
  ASSERT_EQ(req.deletions.size(), 1u);
  EXPECT_EQ(req.deletions[0].mechanism, 1);
  ASSERT_EQ(req.upsertions.size(), 1u);
  EXPECT_EQ(req.upsertions[0].name, "v");
  EXPECT_EQ(req.upsertions[0].mechanism, 2);
  EXPECT_EQ(req.upsertions[0].iterations, 4096);
  EXPECT_EQ(req.upsertions[0].salt, std::vector<uint8_t>{'s'});
  EXPECT_EQ(req.upsertions[0].salted_password, std::vector<uint8_t>{'p'});
  EXPECT_EQ(encode(req, 0), alter);
}

TEST(Golden, AlterClientQuotasV1) {
  // kafka-configs.sh --alter --entity-type users --entity-name u
  // --add-config producer_byte_rate=1024: one entry, one op (1024.0 as an
  // IEEE 754 double, big-endian), remove false; validate_only false.
  std::vector<uint8_t> body = {0x02,                                             // entries
                               0x02, 0x05, 'u', 's', 'e', 'r', 0x02, 'u', 0x00,  // entity [("user", "u")]
                               0x02, 0x13};                                      // ops, key length
  append(body, "producer_byte_rate");
  body.insert(body.end(), {0x40, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1024.0
                           0x00, 0x00,                                      // remove, op tags
                           0x00,                                            // entry tags
                           0x00, 0x00});                                    // validate_only, tags
  auto req = decode<AlterClientQuotasRequest>(body, 1);
  ASSERT_EQ(req.entries.size(), 1u);
  ASSERT_EQ(req.entries[0].entity.size(), 1u);
  EXPECT_EQ(req.entries[0].entity[0].entity_type, "user");
  EXPECT_EQ(req.entries[0].entity[0].entity_name, "u");
  ASSERT_EQ(req.entries[0].ops.size(), 1u);
  EXPECT_EQ(req.entries[0].ops[0].key, "producer_byte_rate");
  EXPECT_EQ(req.entries[0].ops[0].value, 1024.0);
  EXPECT_FALSE(req.entries[0].ops[0].remove);
  EXPECT_EQ(encode(req, 1), body);
  // v0: the same with classic strings and arrays; a default entity's name is null.
  AlterClientQuotasRequest v0;
  auto& entry = v0.entries.emplace_back();
  auto& e = entry.entity.emplace_back();
  e.entity_type = "client-id";
  e.entity_name = std::nullopt;
  std::vector<uint8_t> expected = {0, 0, 0, 1, 0, 0, 0, 1, 0, 9};
  append(expected, "client-id");
  expected.insert(expected.end(), {0xff, 0xff, 0, 0, 0, 0, 0});
  EXPECT_EQ(encode(v0, 0), expected);
}

TEST(Golden, CreateAclsV1AndV3) {
  // Allow User:a READ on the literal topic "t" from any host, as
  // kafka-acls.sh sends it: v1 (classic) and v3 (flexible).
  std::vector<uint8_t> v1 = {0, 0, 0, 1, 2, 0, 1, 't', 3, 0, 6};
  append(v1, "User:a");
  v1.insert(v1.end(), {0, 1, '*', 3, 3});
  auto req = decode<CreateAclsRequest>(v1, 1);
  ASSERT_EQ(req.creations.size(), 1u);
  EXPECT_EQ(req.creations[0].resource_type, 2);
  EXPECT_EQ(req.creations[0].resource_name, "t");
  EXPECT_EQ(req.creations[0].resource_pattern_type, 3);
  EXPECT_EQ(req.creations[0].principal, "User:a");
  EXPECT_EQ(req.creations[0].host, "*");
  EXPECT_EQ(req.creations[0].operation, 3);
  EXPECT_EQ(req.creations[0].permission_type, 3);
  EXPECT_EQ(encode(req, 1), v1);
  std::vector<uint8_t> v3 = {0x02, 2, 0x02, 't', 3, 0x07};
  append(v3, "User:a");
  v3.insert(v3.end(), {0x02, '*', 3, 3, 0x00, 0x00});
  EXPECT_EQ(decode<CreateAclsRequest>(v3, 3), req);
  EXPECT_EQ(encode(req, 3), v3);
  // v0 has no pattern type: literal.
  std::vector<uint8_t> v0 = {0, 0, 0, 1, 2, 0, 1, 't', 0, 6};
  append(v0, "User:a");
  v0.insert(v0.end(), {0, 1, '*', 3, 3});
  EXPECT_EQ(decode<CreateAclsRequest>(v0, 0).creations[0].resource_pattern_type, 3);
  // Response v3: one result, no error (null message).
  CreateAclsResponse resp;
  resp.results.emplace_back();
  EXPECT_EQ(encode(resp, 3), (std::vector<uint8_t>{0, 0, 0, 0, 0x02, 0, 0, 0x00, 0x00, 0x00}));
  resp.results[0].error_code = 54;  // SECURITY_DISABLED
  resp.results[0].error_message = "x";
  EXPECT_EQ(encode(resp, 1), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 1, 0, 54, 0, 1, 'x'}));
}

TEST(Golden, DescribeAclsV0AndV3) {
  // Any ACL of User:a on any topic: v0 (no pattern type), then its answer
  // at v3 (flexible): topic "t" LITERAL, User:a from * READ ALLOW.
  std::vector<uint8_t> v0 = {2, 0xff, 0xff, 0, 6};
  append(v0, "User:a");
  v0.insert(v0.end(), {0xff, 0xff, 1, 1});
  auto req = decode<DescribeAclsRequest>(v0, 0);
  EXPECT_EQ(req.resource_type_filter, 2);
  EXPECT_FALSE(req.resource_name_filter.has_value());
  EXPECT_EQ(req.pattern_type_filter, 3);
  EXPECT_EQ(req.principal_filter, std::optional<std::string>("User:a"));
  EXPECT_FALSE(req.host_filter.has_value());
  EXPECT_EQ(encode(req, 0), v0);
  std::vector<uint8_t> v3 = {2, 0x00, 1, 0x07};
  append(v3, "User:a");
  v3.insert(v3.end(), {0x00, 1, 1, 0x00});
  auto flexible = decode<DescribeAclsRequest>(v3, 3);
  EXPECT_EQ(flexible.pattern_type_filter, 1);  // ANY
  EXPECT_EQ(encode(flexible, 3), v3);

  DescribeAclsResponse resp;
  auto& r = resp.resources.emplace_back();
  r.resource_type = 2;
  r.resource_name = "t";
  r.pattern_type = 3;
  auto& a = r.acls.emplace_back();
  a.principal = "User:a";
  a.host = "*";
  a.operation = 3;
  a.permission_type = 3;
  std::vector<uint8_t> out = {0, 0, 0, 0, 0, 0, 0x00, 0x02, 2, 0x02, 't', 3, 0x02, 0x07};
  append(out, "User:a");
  out.insert(out.end(), {0x02, '*', 3, 3, 0x00, 0x00, 0x00});
  EXPECT_EQ(encode(resp, 3), out);
  EXPECT_EQ(decode<DescribeAclsResponse>(out, 3), resp);
}

TEST(Golden, DeleteAclsV1AndV2) {
  // Delete every literal ACL of topic "t": v1; the answer at v2 (flexible)
  // lists the one removed.
  std::vector<uint8_t> v1 = {0, 0, 0, 1, 2, 0, 1, 't', 3, 0xff, 0xff, 0xff, 0xff, 1, 1};
  auto req = decode<DeleteAclsRequest>(v1, 1);
  ASSERT_EQ(req.filters.size(), 1u);
  EXPECT_EQ(req.filters[0].resource_name_filter, std::optional<std::string>("t"));
  EXPECT_FALSE(req.filters[0].principal_filter.has_value());
  EXPECT_EQ(encode(req, 1), v1);
  EXPECT_EQ(encode(req, 2), (std::vector<uint8_t>{0x02, 2, 0x02, 't', 3, 0x00, 0x00, 1, 1, 0x00, 0x00}));

  DeleteAclsResponse resp;
  auto& f = resp.filter_results.emplace_back();
  auto& m = f.matching_acls.emplace_back();
  m.resource_type = 2;
  m.resource_name = "t";
  m.pattern_type = 3;
  m.principal = "User:a";
  m.host = "*";
  m.operation = 3;
  m.permission_type = 3;
  std::vector<uint8_t> out = {0, 0, 0, 0, 0x02, 0, 0, 0x00, 0x02, 0, 0, 0x00, 2, 0x02, 't', 3, 0x07};
  append(out, "User:a");
  out.insert(out.end(), {0x02, '*', 3, 3, 0x00, 0x00, 0x00});
  EXPECT_EQ(encode(resp, 2), out);
  EXPECT_EQ(decode<DeleteAclsResponse>(out, 2), resp);
}

TEST(Golden, WriteTxnMarkersV0AndV1) {
  // One ABORT marker for producer 7, epoch 1, topic "t" partitions [0, 2],
  // coordinator epoch 3, in Kafka's WriteTxnMarkersRequest layout.
  std::vector<uint8_t> v0 = {0, 0, 0,   1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0, 0, 0, 1,
                             0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3};
  auto req = decode<WriteTxnMarkersRequest>(v0, 0);
  ASSERT_EQ(req.markers.size(), 1u);
  EXPECT_EQ(req.markers[0].producer_id, 7);
  EXPECT_EQ(req.markers[0].producer_epoch, 1);
  EXPECT_FALSE(req.markers[0].transaction_result);
  ASSERT_EQ(req.markers[0].topics.size(), 1u);
  EXPECT_EQ(req.markers[0].topics[0].name, "t");
  EXPECT_EQ(req.markers[0].topics[0].partition_indexes, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(req.markers[0].coordinator_epoch, 3);
  EXPECT_EQ(encode(req, 0), v0);
  // v1: compact arrays and strings, tags after each struct.
  std::vector<uint8_t> v1 = {0x02, 0, 0, 0, 0, 0, 0, 0, 7,    0, 1, 0, 0x02, 0x02, 't', 0x03,
                             0,    0, 0, 0, 0, 0, 0, 2, 0x00, 0, 0, 0, 3,    0x00, 0x00};
  EXPECT_EQ(decode<WriteTxnMarkersRequest>(v1, 1), req);
  EXPECT_EQ(encode(req, 1), v1);

  WriteTxnMarkersResponse resp;
  auto& marker = resp.markers.emplace_back();
  marker.producer_id = 7;
  auto& topic = marker.topics.emplace_back();
  topic.name = "t";
  auto& partition = topic.partitions.emplace_back();
  partition.partition_index = 2;
  partition.error_code = 52;
  EXPECT_EQ(encode(resp, 0), (std::vector<uint8_t>{0, 0, 0, 1,   0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0,
                                                   1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 52}));
}

TEST(Golden, AlterReplicaLogDirsV1AndV2) {
  // One directory, one topic, one partition: classic (v1) and flexible (v2).
  AlterReplicaLogDirsRequest req;
  auto& dir = req.dirs.emplace_back();
  dir.path = "/d";
  auto& t = dir.topics.emplace_back();
  t.name = "t";
  t.partitions = {3};
  EXPECT_EQ(encode(req, 1),
            (std::vector<uint8_t>{0, 0, 0, 1, 0, 2, '/', 'd', 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 3}));
  EXPECT_EQ(encode(req, 2),
            (std::vector<uint8_t>{0x02, 0x03, '/', 'd', 0x02, 0x02, 't', 0x02, 0, 0, 0, 3, 0x00, 0x00, 0x00}));
  AlterReplicaLogDirsResponse resp;
  auto& r = resp.results.emplace_back();
  r.topic_name = "t";
  auto& p = r.partitions.emplace_back();
  p.partition_index = 3;
  p.error_code = 57;
  EXPECT_EQ(encode(resp, 2),
            (std::vector<uint8_t>{0, 0, 0, 0, 0x02, 0x02, 't', 0x02, 0, 0, 0, 3, 0, 57, 0x00, 0x00, 0x00}));
}

TEST(Golden, DescribeLogDirsV0AndV4) {
  // kafka-log-dirs.sh --describe asks for every topic: null. v0: a classic
  // null array; v4 (flexible): a compact null array, then the tags.
  EXPECT_FALSE(decode<DescribeLogDirsRequest>({0xff, 0xff, 0xff, 0xff}, 0).topics.has_value());
  EXPECT_FALSE(decode<DescribeLogDirsRequest>({0x00, 0x00}, 4).topics.has_value());
  DescribeLogDirsRequest one;
  auto& t = one.topics.emplace().emplace_back();
  t.topic = "t";
  t.partitions = {2};
  EXPECT_EQ(encode(one, 0), (std::vector<uint8_t>{0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2}));
  // The v4 response: top-level error (v3+), one directory with one
  // partition, its volume's total and usable bytes (v4, KIP-827).
  DescribeLogDirsResponse resp;
  auto& dir = resp.results.emplace_back();
  dir.log_dir = "/d";
  auto& topic = dir.topics.emplace_back();
  topic.name = "t";
  auto& p = topic.partitions.emplace_back();
  p.partition_index = 2;
  p.partition_size = 300;
  dir.total_bytes = 1000;
  dir.usable_bytes = 400;
  std::vector<uint8_t> expected = {
      0,    0,    0,   0,                                                                  // throttle
      0,    0,                                                                             // error
      0x02, 0,    0,   0x03, '/', 'd',                                                     // results, error, dir
      0x02, 0x02, 't',                                                                     // topics, name
      0x02, 0,    0,   0,    2,   0,   0,    0,    0, 0,    0, 0x01, 0x2c,                 // partition 2, size 300
      0,    0,    0,   0,    0,   0,   0,    0,    0, 0x00,                                // lag, future, tags
      0x00,                                                                                // topic tags
      0,    0,    0,   0,    0,   0,   0x03, 0xe8, 0, 0,    0, 0,    0,    0, 0x01, 0x90,  // total, usable
      0x00, 0x00};                                                                         // result tags, tags
  EXPECT_EQ(encode(resp, 4), expected);
  EXPECT_EQ(decode<DescribeLogDirsResponse>(expected, 4), resp);
}

}  // namespace
}  // namespace runnel::protocol
