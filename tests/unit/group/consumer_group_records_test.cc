// Kafka's KIP-848 records of a consumer group (types 3-8): their bytes, the
// records a change writes, and the image that replaying them rebuilds, in
// log order and in the key order a compacted log holds them in.
#include "group/consumer_group_records.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/reader.h"

namespace runnel::group {
namespace {

std::array<uint8_t, 16> topic_id(uint8_t b) {
  std::array<uint8_t, 16> id{};
  id.fill(b);
  return id;
}

ConsumerMemberValue member(const std::string& id, int32_t epoch) {
  ConsumerMemberValue m;
  m.member_id = id;
  m.client_id = "client-" + id;
  m.client_host = "/127.0.0.1";
  m.rebalance_timeout_ms = 300000;
  m.subscribed_topics = {"orders"};
  m.server_assignor = "uniform";
  m.member_epoch = epoch;
  m.previous_member_epoch = epoch - 1;
  m.assigned = {{topic_id(1), {0, 1}}};
  m.target = {{topic_id(1), {0, 1}}};
  return m;
}

ConsumerGroupValue two_members() {
  ConsumerGroupValue g;
  g.group_epoch = 4;
  g.assignment_epoch = 4;
  g.members = {member("a", 4), member("b", 4)};
  g.members[1].assigned = {{topic_id(1), {2}}};
  g.members[1].target = {{topic_id(1), {2}}};
  auto& classic = g.members[1].classic.emplace();
  classic.session_timeout_ms = 45000;
  classic.protocols = {{"range", {0x0a, 0x0b}}};
  return g;
}

std::optional<ConsumerGroupValue> replay(const std::vector<KeyedRecord>& records,
                                         std::optional<ConsumerGroupValue> image = std::nullopt) {
  for (const auto& r : records) {
    auto key = std::get<ConsumerGroupRecordKey>(decode_key(r.key));
    std::optional<std::span<const uint8_t>> value;
    if (r.value) value = std::span<const uint8_t>(*r.value);
    apply_consumer_group_record(key, value, image);
  }
  return image;
}

std::vector<int16_t> types(const std::vector<KeyedRecord>& records) {
  std::vector<int16_t> out;
  for (const auto& r : records) out.push_back(std::get<ConsumerGroupRecordKey>(decode_key(r.key)).type);
  return out;
}

TEST(ConsumerGroupRecords, KeysAndValuesHaveKafkasBytes) {
  ConsumerGroupValue g;
  g.group_epoch = 5;
  g.assignment_epoch = 5;
  auto m = member("m", 5);
  m.server_assignor.reset();
  m.assigned.clear();
  m.target.clear();
  g.members = {m};
  auto records = consumer_group_changes("g", nullptr, g);
  ASSERT_EQ(types(records), (std::vector<int16_t>{5, 3, 7, 6, 8}));
  // ConsumerGroupMemberMetadataKey v5: group, member; value v0 (flexible).
  EXPECT_EQ(records[0].key, (std::vector<uint8_t>{0, 5, 0, 1, 'g', 0, 1, 'm'}));
  std::vector<uint8_t> metadata = {
      0,   0,  // version
      0,       // instance id: null
      0,       // rack: null
      9,   'c',  'l',  'i',  'e', 'n', 't', '-', 'm', 11,  '/', '1', '2', '7',
      '.', '0',  '.',  '0',  '.', '1', 2,   7,   'o', 'r', 'd', 'e', 'r', 's',  // subscribed topic names
      0,                                                                        // regex: null
      0,   0x04, 0x93, 0xe0,                                                    // rebalance timeout 300000
      0,                                                                        // server assignor: null
      0};                                                                       // no tagged fields
  EXPECT_EQ(*records[0].value, metadata);
  // ConsumerGroupMetadataKey v3 and its value: the group epoch.
  EXPECT_EQ(records[1].key, (std::vector<uint8_t>{0, 3, 0, 1, 'g'}));
  EXPECT_EQ(*records[1].value, (std::vector<uint8_t>{0, 0, 0, 0, 0, 5, 0}));
  // ConsumerGroupCurrentMemberAssignmentValue: epochs, state, two empty lists.
  EXPECT_EQ(*records[4].value, (std::vector<uint8_t>{0, 0, 0, 0, 0, 5, 0, 0, 0, 4, 0, 1, 1, 0}));
}

TEST(ConsumerGroupRecords, ClassicMemberMetadataIsTaggedFieldZero) {
  auto g = two_members();
  auto records = consumer_group_changes("g", nullptr, g);
  ASSERT_EQ(types(records)[1], 5);
  const auto& value = *records[1].value;
  // ... server assignor "uniform", then one tagged field: tag 0, size 17,
  // presence byte, session timeout 45000, one protocol "range" = 0a 0b.
  std::vector<uint8_t> tail = {8,    'u',  'n', 'i', 'f', 'o', 'r', 'm', 1,   0, 17,   1,    0, 0,
                               0xaf, 0xc8, 2,   6,   'r', 'a', 'n', 'g', 'e', 3, 0x0a, 0x0b, 0, 0};
  ASSERT_GE(value.size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), value.end() - tail.size()));
}

TEST(ConsumerGroupRecords, ReplayRebuildsTheGroup) {
  auto g = two_members();
  auto image = replay(consumer_group_changes("g", nullptr, g));
  ASSERT_TRUE(image);
  EXPECT_EQ(encode_value(*image), encode_value(g));
}

TEST(ConsumerGroupRecords, ReplayInKeyOrderAsACompactedLogHoldsThem) {
  auto g = two_members();
  auto records = consumer_group_changes("g", nullptr, g);
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  auto image = replay(records);
  ASSERT_TRUE(image);
  EXPECT_EQ(image->group_epoch, 4);
  EXPECT_EQ(image->assignment_epoch, 4);
  ASSERT_EQ(image->members.size(), 2u);
  std::sort(image->members.begin(), image->members.end(),
            [](const auto& a, const auto& b) { return a.member_id < b.member_id; });
  EXPECT_EQ(encode_value(*image), encode_value(g));
}

TEST(ConsumerGroupRecords, AChangeWritesOnlyWhatChanged) {
  auto before = two_members();
  auto after = before;
  after.members[0].member_epoch = 5;
  after.members[0].previous_member_epoch = 4;
  auto records = consumer_group_changes("g", &before, after);
  ASSERT_EQ(types(records), (std::vector<int16_t>{8}));
  EXPECT_EQ(std::get<ConsumerGroupRecordKey>(decode_key(records[0].key)).member_id, "a");
  EXPECT_EQ(encode_value(*replay(records, before)), encode_value(after));
  EXPECT_TRUE(consumer_group_changes("g", &after, after).empty());
}

TEST(ConsumerGroupRecords, AMemberThatLeavesIsTombstoned) {
  auto before = two_members();
  auto after = before;
  after.group_epoch = 5;
  after.assignment_epoch = 5;
  after.members.pop_back();
  after.members[0].target = {{topic_id(1), {0, 1, 2}}};
  auto records = consumer_group_changes("g", &before, after);
  EXPECT_EQ(types(records), (std::vector<int16_t>{3, 7, 6, 8, 7, 5}));
  for (size_t i = 3; i < records.size(); ++i) EXPECT_FALSE(records[i].value);
  EXPECT_EQ(encode_value(*replay(records, before)), encode_value(after));
}

TEST(ConsumerGroupRecords, TombstonesDeleteTheGroup) {
  auto g = two_members();
  auto records = consumer_group_changes("g", nullptr, g);
  auto tombstones = consumer_group_tombstones("g", g);
  EXPECT_EQ(types(tombstones), (std::vector<int16_t>{8, 7, 5, 8, 7, 5, 6, 3}));
  records.insert(records.end(), tombstones.begin(), tombstones.end());
  EXPECT_FALSE(replay(records));
}

TEST(ConsumerGroupRecords, PartitionMetadataAndUnknownTagsAreSkipped) {
  std::optional<ConsumerGroupValue> image;
  std::vector<uint8_t> junk = {0, 0, 1, 2, 3};
  apply_consumer_group_record({4, "g", ""}, std::span<const uint8_t>(junk), image);
  EXPECT_FALSE(image);
  auto g = two_members();
  g.members[1].classic.reset();
  auto records = consumer_group_changes("g", nullptr, g);
  // Member b's metadata with an extra tagged field 7 of a newer version.
  auto& value = *records[1].value;
  ASSERT_EQ(value.back(), 0);
  value.back() = 1;
  for (uint8_t b : {7, 2, 0xff, 0xff}) value.push_back(b);
  EXPECT_EQ(encode_value(*replay(records)), encode_value(g));
}

TEST(ConsumerGroupRecords, MalformedValuesThrow) {
  std::optional<ConsumerGroupValue> image;
  std::vector<uint8_t> short_value = {0, 0, 0, 0};
  EXPECT_THROW(apply_consumer_group_record({3, "g", ""}, std::span<const uint8_t>(short_value), image),
               protocol::DecodeError);
  EXPECT_THROW(apply_consumer_group_record({8, "g", "m"}, std::span<const uint8_t>(short_value), image),
               protocol::DecodeError);
}

}  // namespace
}  // namespace runnel::group
