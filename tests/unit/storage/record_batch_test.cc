#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace runnel::protocol {
namespace {
using testing::BatchSpec;
using testing::fix_crc;
using testing::make_batch;

TEST(RecordBatch, GoodBatchValidatesAndReadsBack) {
  auto b = make_batch({.records = 3, .base_timestamp = 500, .timestamp_step = 7, .producer_id = 9,
                       .producer_epoch = 2, .base_sequence = 4});
  EXPECT_EQ(validate_batch(b), ErrorCode::NONE);
  BatchView v(b);
  EXPECT_EQ(v.size(), b.size());
  EXPECT_EQ(v.magic(), 2);
  EXPECT_EQ(v.record_count(), 3);
  EXPECT_EQ(v.last_offset_delta(), 2);
  EXPECT_EQ(v.max_timestamp(), 514);
  EXPECT_EQ(v.producer_id(), 9);
  EXPECT_EQ(v.producer_epoch(), 2);
  EXPECT_EQ(v.base_sequence(), 4);
  EXPECT_EQ(v.compression(), CompressionType::None);
  EXPECT_FALSE(v.log_append_time());
  EXPECT_FALSE(v.is_transactional());
  EXPECT_FALSE(v.is_control());
}

TEST(RecordBatch, AttributeBits) {
  auto b = make_batch({.attributes = 0x04 | 0x10});
  BatchView v(b);
  EXPECT_EQ(v.compression(), CompressionType::Zstd);
  EXPECT_TRUE(v.is_transactional());
  EXPECT_EQ(validate_batch(b), ErrorCode::NONE);
}

TEST(RecordBatch, BadCrcIsCorrupt) {
  auto b = make_batch({.records = 2});
  b.back() ^= 0x01;
  EXPECT_EQ(validate_batch(b), ErrorCode::CORRUPT_MESSAGE);
}

TEST(RecordBatch, WrongMagicIsInvalidRecord) {
  auto b = make_batch();
  b[16] = 1;
  EXPECT_EQ(validate_batch(b), ErrorCode::INVALID_RECORD);
}

TEST(RecordBatch, UnknownCodecIsCorrupt) {
  auto b = make_batch({.attributes = 5});
  EXPECT_EQ(validate_batch(b), ErrorCode::CORRUPT_MESSAGE);
}

TEST(RecordBatch, CountRules) {
  auto empty = make_batch({.records = 0});
  EXPECT_EQ(validate_batch(empty), ErrorCode::INVALID_RECORD);
  auto b = make_batch({.records = 3});
  store_be32(b.data() + 23, 5);  // lastOffsetDelta disagrees with recordCount
  fix_crc(b);
  EXPECT_EQ(validate_batch(b), ErrorCode::INVALID_RECORD);
  auto control = make_batch({.attributes = 0x20});
  EXPECT_EQ(validate_batch(control), ErrorCode::INVALID_RECORD);
  EXPECT_EQ(validate_batch(control, BatchOrigin::Replication), ErrorCode::NONE);
  auto no_sequence = make_batch({.producer_id = 5, .base_sequence = -1});
  EXPECT_EQ(validate_batch(no_sequence), ErrorCode::INVALID_RECORD);
}

TEST(RecordBatch, TruncatedAndLyingLengths) {
  auto b = make_batch({.records = 2});
  std::vector<BatchExtent> out;
  EXPECT_EQ(split_batches(b, out), ErrorCode::NONE);
  ASSERT_EQ(out.size(), 1u);
  for (size_t cut = 1; cut < b.size(); ++cut) {
    std::span<const uint8_t> part(b.data(), cut);
    EXPECT_EQ(split_batches(part, out), ErrorCode::CORRUPT_MESSAGE) << cut;
    EXPECT_EQ(validate_batch(part), ErrorCode::CORRUPT_MESSAGE) << cut;
  }
  auto longer = b;
  store_be32(longer.data() + 8, static_cast<uint32_t>(b.size()));  // claims more than there is
  EXPECT_EQ(split_batches(longer, out), ErrorCode::CORRUPT_MESSAGE);
  auto tiny = b;
  store_be32(tiny.data() + 8, 10);  // below the header
  EXPECT_EQ(split_batches(tiny, out), ErrorCode::CORRUPT_MESSAGE);
  auto negative = b;
  store_be32(negative.data() + 8, 0xffffffff);
  EXPECT_EQ(split_batches(negative, out), ErrorCode::CORRUPT_MESSAGE);
}

TEST(RecordBatch, SplitsSeveralAndEnforcesMaxSize) {
  auto a = make_batch({.records = 1});
  auto b = make_batch({.records = 4});
  std::vector<uint8_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  std::vector<BatchExtent> out;
  ASSERT_EQ(split_batches(both, out), ErrorCode::NONE);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].position, a.size());
  EXPECT_EQ(out[1].size, b.size());
  EXPECT_EQ(split_batches(both, out, a.size()), ErrorCode::MESSAGE_TOO_LARGE);
  both.push_back(0);  // a trailing partial batch
  EXPECT_EQ(split_batches(both, out), ErrorCode::CORRUPT_MESSAGE);
}

TEST(RecordBatch, PatchingKeepsCrcValid) {
  auto b = make_batch({.records = 3, .base_timestamp = 100});
  set_base_offset(b, 1234567);
  set_partition_leader_epoch(b, 42);
  EXPECT_EQ(validate_batch(b), ErrorCode::NONE);
  BatchView v(b);
  EXPECT_EQ(v.base_offset(), 1234567);
  EXPECT_EQ(v.last_offset(), 1234569);
  EXPECT_EQ(v.partition_leader_epoch(), 42);
  set_log_append_time(b, 99999);
  EXPECT_EQ(validate_batch(b), ErrorCode::NONE);
  EXPECT_TRUE(v.log_append_time());
  EXPECT_EQ(v.max_timestamp(), 99999);
  EXPECT_EQ(v.base_timestamp(), 100);  // as Kafka's setMaxTimestamp
  EXPECT_EQ(v.compression(), CompressionType::None);
}

}  // namespace
}  // namespace runnel::protocol
