// One test (or more) per rule of the produce-side batch validator, with
// batches built here byte by byte so that each can break exactly one rule.
#include "protocol/batch_validator.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <optional>
#include <string>

#include "protocol/record_batch.h"
#include "test_util.h"

namespace runnel::protocol {
namespace {
using testing::put_varlong;

constexpr int64_t kNow = 1'700'000'000'000;

struct RawRecord {
  int64_t timestamp_delta = 0;
  int64_t offset_delta = -1;  // -1: the record's index
  std::optional<std::string> key = std::string("k");
  std::string value = "value";
  std::vector<std::pair<std::string, std::string>> headers{};
};

struct RawBatch {
  std::vector<RawRecord> records{RawRecord{}};
  int64_t base_timestamp = kNow;
  std::optional<int64_t> max_timestamp;  // default: the records' true max
  int16_t attributes = 0;
  std::optional<int32_t> last_offset_delta;  // default: count - 1
  std::optional<int32_t> record_count;       // default: records.size()
  int64_t producer_id = -1;
  int32_t base_sequence = -1;
  std::vector<uint8_t> trailing;  // bytes after the records (inside the CRC)
};

std::vector<uint8_t> encode_records(const std::vector<RawRecord>& records) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    std::vector<uint8_t> rec;
    rec.push_back(0);
    put_varlong(rec, r.timestamp_delta);
    put_varlong(rec, r.offset_delta < 0 ? static_cast<int64_t>(i) : r.offset_delta);
    if (r.key) {
      put_varlong(rec, static_cast<int64_t>(r.key->size()));
      rec.insert(rec.end(), r.key->begin(), r.key->end());
    } else {
      put_varlong(rec, -1);
    }
    put_varlong(rec, static_cast<int64_t>(r.value.size()));
    rec.insert(rec.end(), r.value.begin(), r.value.end());
    put_varlong(rec, static_cast<int64_t>(r.headers.size()));
    for (const auto& [k, v] : r.headers) {
      put_varlong(rec, static_cast<int64_t>(k.size()));
      rec.insert(rec.end(), k.begin(), k.end());
      put_varlong(rec, static_cast<int64_t>(v.size()));
      rec.insert(rec.end(), v.begin(), v.end());
    }
    put_varlong(out, static_cast<int64_t>(rec.size()));
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

std::vector<uint8_t> compress_body(int codec, const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> out;
  if (codec == 4) {
    out.resize(ZSTD_compressBound(raw.size()));
    out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1));
  } else if (codec == 1) {
    uLongf n = compressBound(raw.size());
    out.resize(n);
    compress(out.data(), &n, raw.data(), raw.size());  // zlib framing; the reader auto-detects
    out.resize(n);
  }
  return out;
}

std::vector<uint8_t> build(const RawBatch& s, std::vector<uint8_t> body) {
  std::vector<uint8_t> b(61, 0);
  b.insert(b.end(), body.begin(), body.end());
  b.insert(b.end(), s.trailing.begin(), s.trailing.end());
  int64_t max_ts = -1;
  for (const auto& r : s.records) max_ts = std::max(max_ts, s.base_timestamp + r.timestamp_delta);
  int32_t count = s.record_count.value_or(static_cast<int32_t>(s.records.size()));
  uint8_t* p = b.data();
  store_be32(p + 8, static_cast<uint32_t>(b.size() - 12));
  store_be32(p + 12, static_cast<uint32_t>(-1));
  p[16] = 2;
  store_be16(p + 21, static_cast<uint16_t>(s.attributes));
  store_be32(p + 23, static_cast<uint32_t>(s.last_offset_delta.value_or(count - 1)));
  store_be64(p + 27, static_cast<uint64_t>(s.base_timestamp));
  store_be64(p + 35, static_cast<uint64_t>(s.max_timestamp.value_or(max_ts)));
  store_be64(p + 43, static_cast<uint64_t>(s.producer_id));
  store_be16(p + 51, static_cast<uint16_t>(-1));
  store_be32(p + 53, static_cast<uint32_t>(s.base_sequence));
  store_be32(p + 57, static_cast<uint32_t>(count));
  testing::fix_crc(b);
  return b;
}

std::vector<uint8_t> build(const RawBatch& s) {
  auto raw = encode_records(s.records);
  int codec = s.attributes & 7;
  return build(s, codec ? compress_body(codec, raw) : raw);
}

BatchValidationConfig create_time() {
  BatchValidationConfig c;
  c.now_ms = kNow;
  c.timestamp_after_max_ms = 3600 * 1000;
  return c;
}

BatchValidation check(const std::vector<uint8_t>& b, const BatchValidationConfig& c = create_time()) {
  std::vector<uint8_t> scratch;
  return validate_produced_batch(b, c, scratch);
}

TEST(BatchValidator, GoodBatchReportsTheRecordsMaxTimestamp) {
  RawBatch s;
  s.records = {{.timestamp_delta = 0}, {.timestamp_delta = 30}, {.timestamp_delta = 10}};
  auto v = check(build(s));
  EXPECT_EQ(v.error, ErrorCode::NONE) << v.message;
  EXPECT_EQ(v.max_timestamp, kNow + 30);
  EXPECT_EQ(v.offset_delta_of_max_timestamp, 1);
  EXPECT_TRUE(v.message.empty());
  EXPECT_TRUE(v.record_errors.empty());
}

TEST(BatchValidator, WrongHeaderMaxTimestampIsRecomputedAndRepaired) {
  RawBatch s;
  s.records = {{.timestamp_delta = 0}, {.timestamp_delta = 5}};
  s.max_timestamp = -1;  // what some clients send
  auto b = build(s);
  auto v = check(b);
  ASSERT_EQ(v.error, ErrorCode::NONE) << v.message;
  EXPECT_EQ(v.max_timestamp, kNow + 5);
  EXPECT_TRUE(set_max_timestamp(b, v.max_timestamp));
  EXPECT_EQ(BatchView(b).max_timestamp(), kNow + 5);
  EXPECT_EQ(validate_batch(b), ErrorCode::NONE);        // CRC rewritten
  EXPECT_FALSE(set_max_timestamp(b, v.max_timestamp));  // already right: untouched
  std::vector<uint8_t> scratch;
  EXPECT_EQ(max_timestamp_from_records(b, scratch), kNow + 5);
}

TEST(BatchValidator, RecordsWithoutTimestampGiveMinusOne) {
  RawBatch s;
  s.base_timestamp = -1;
  s.records = {{}, {}};
  auto v = check(build(s));
  ASSERT_EQ(v.error, ErrorCode::NONE) << v.message;
  EXPECT_EQ(v.max_timestamp, -1);
}

TEST(BatchValidator, HeaderRulesComeFirst) {
  auto b = build(RawBatch{});
  b.back() ^= 1;  // CRC no longer matches
  auto v = check(b);
  EXPECT_EQ(v.error, ErrorCode::CORRUPT_MESSAGE);
  EXPECT_NE(v.message.find("CRC"), std::string::npos);
  RawBatch control;
  control.attributes = 0x20;
  EXPECT_EQ(check(build(control)).error, ErrorCode::INVALID_RECORD);
  RawBatch codec;
  codec.attributes = 6;
  EXPECT_EQ(check(build(codec, encode_records(codec.records))).error, ErrorCode::CORRUPT_MESSAGE);
}

TEST(BatchValidator, LastOffsetDeltaMustMatchTheCount) {
  RawBatch s;
  s.records = {{}, {}, {}};
  s.last_offset_delta = 5;
  auto v = check(build(s));
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  EXPECT_NE(v.message.find("Inconsistent"), std::string::npos);
}

TEST(BatchValidator, CountMustMatchTheRecordsPresent) {
  RawBatch fewer;
  fewer.records = {{}, {}};
  fewer.record_count = 3;  // and lastOffsetDelta 2: consistent header, one record missing
  EXPECT_EQ(check(build(fewer)).error, ErrorCode::INVALID_RECORD);
  RawBatch more;
  more.records = {{}, {}, {}};
  more.record_count = 2;
  auto v = check(build(more));
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  EXPECT_NE(v.message.find("remaining"), std::string::npos);
}

TEST(BatchValidator, InnerOffsetDeltasMustRunFromZero) {
  RawBatch s;
  s.records = {{}, {.offset_delta = 2}, {}};
  auto v = check(build(s));
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  ASSERT_EQ(v.record_errors.size(), 1u);
  EXPECT_EQ(v.record_errors[0].batch_index, 1);
  RawBatch shifted;
  shifted.records = {{.offset_delta = 1}, {.offset_delta = 2}};
  EXPECT_EQ(check(build(shifted)).record_errors.size(), 2u);
}

TEST(BatchValidator, TrailingBytesAfterTheRecordsAreRefused) {
  RawBatch s;
  s.trailing = {0x00};
  EXPECT_EQ(check(build(s)).error, ErrorCode::INVALID_RECORD);
}

TEST(BatchValidator, BadVarintsAndLengthsAreInvalidRecords) {
  auto good = encode_records({RawRecord{}});
  RawBatch s;
  // A record length varint that never ends.
  EXPECT_EQ(check(build(s, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff})).error, ErrorCode::INVALID_RECORD);
  // A record length longer than the batch.
  auto longer = good;
  longer[0] = static_cast<uint8_t>(longer[0] + 2);
  EXPECT_EQ(check(build(s, longer)).error, ErrorCode::INVALID_RECORD);
  // A negative record length.
  auto negative = good;
  negative[0] = 0x01;  // zig-zag -1
  EXPECT_EQ(check(build(s, negative)).error, ErrorCode::INVALID_RECORD);
  // A record length shorter than its fields: the length varint says one byte
  // less and one byte is dropped from the end (the header count).
  auto shorter = good;
  shorter[0] = static_cast<uint8_t>(shorter[0] - 2);
  shorter.pop_back();
  EXPECT_EQ(check(build(s, shorter)).error, ErrorCode::INVALID_RECORD);
  // A record whose fields end before its length (one spare byte).
  auto spare = good;
  spare[0] = static_cast<uint8_t>(spare[0] + 2);
  spare.push_back(0);
  auto v = check(build(s, spare));
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  EXPECT_NE(v.message.find("record size"), std::string::npos);
  // A timestamp delta varlong of eleven bytes.
  std::vector<uint8_t> rec = {0};
  for (int i = 0; i < 10; ++i) rec.push_back(0xff);
  rec.push_back(0x01);
  std::vector<uint8_t> body;
  put_varlong(body, static_cast<int64_t>(rec.size()));
  body.insert(body.end(), rec.begin(), rec.end());
  EXPECT_EQ(check(build(s, body)).error, ErrorCode::INVALID_RECORD);
}

TEST(BatchValidator, HeaderCountsMustBeSane) {
  RawBatch s;
  s.records = {{.headers = {{"h", "v"}}}};
  EXPECT_EQ(check(build(s)).error, ErrorCode::NONE);
  auto body = encode_records(s.records);
  // Layout: len, attr, ts, off, keylen, 'k', vallen, "value", hcount, ...
  size_t hcount_at = 1 + 1 + 1 + 1 + 1 + 1 + 1 + 5;
  ASSERT_EQ(body[hcount_at], 2);  // zig-zag 1
  auto negative = body;
  negative[hcount_at] = 0x01;  // -1
  EXPECT_EQ(check(build(s, negative)).error, ErrorCode::INVALID_RECORD);
  auto huge = body;
  huge[hcount_at] = 0x7e;  // 63 headers in a few bytes
  EXPECT_EQ(check(build(s, huge)).error, ErrorCode::INVALID_RECORD);
  auto negative_key = body;
  negative_key[hcount_at + 1] = 0x01;  // header key length -1
  EXPECT_EQ(check(build(s, negative_key)).error, ErrorCode::INVALID_RECORD);
}

TEST(BatchValidator, NullKeyAndNullValueParse) {
  RawBatch s;
  s.records = {{.key = std::nullopt, .value = ""}};
  EXPECT_EQ(check(build(s)).error, ErrorCode::NONE);
}

TEST(BatchValidator, CompactedTopicNeedsKeys) {
  RawBatch s;
  s.records = {{}, {.key = std::nullopt}};
  auto c = create_time();
  EXPECT_EQ(check(build(s)).error, ErrorCode::NONE);
  c.compacted = true;
  auto v = check(build(s), c);
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  ASSERT_EQ(v.record_errors.size(), 1u);
  EXPECT_EQ(v.record_errors[0].batch_index, 1);
  EXPECT_NE(v.message.find("Compacted topic"), std::string::npos);
}

TEST(BatchValidator, TimestampsOutsideTheWindowAreInvalidTimestamp) {
  auto c = create_time();
  c.timestamp_before_max_ms = 1000;
  c.timestamp_after_max_ms = 1000;
  RawBatch s;
  s.base_timestamp = kNow - 5000;
  s.records = {{.timestamp_delta = 0}, {.timestamp_delta = 4500}, {.timestamp_delta = 7000}};
  auto v = check(build(s), c);
  EXPECT_EQ(v.error, ErrorCode::INVALID_TIMESTAMP);
  EXPECT_EQ(v.message, "One or more records have been rejected due to invalid timestamp");
  ASSERT_EQ(v.record_errors.size(), 2u);  // the first (too old) and the last (too new)
  EXPECT_EQ(v.record_errors[0].batch_index, 0);
  EXPECT_EQ(v.record_errors[1].batch_index, 2);
  EXPECT_NE(v.record_errors[1].message.find("out of range"), std::string::npos);
  // At the edges: accepted.
  RawBatch edge;
  edge.base_timestamp = kNow - 1000;
  edge.records = {{.timestamp_delta = 0}, {.timestamp_delta = 2000}};
  EXPECT_EQ(check(build(edge), c).error, ErrorCode::NONE);
}

TEST(BatchValidator, DefaultWindowIsKafka4) {
  // Long.MAX before, one hour after.
  auto c = create_time();
  RawBatch old;
  old.base_timestamp = 0;
  EXPECT_EQ(check(build(old), c).error, ErrorCode::NONE);
  RawBatch future;
  future.base_timestamp = kNow + 3600 * 1000 + 1;
  EXPECT_EQ(check(build(future), c).error, ErrorCode::INVALID_TIMESTAMP);
  // No overflow in the range check: exactly Long.MAX ms in the past is allowed, one more is not.
  RawBatch oldest;
  oldest.base_timestamp = kNow - std::numeric_limits<int64_t>::max();
  EXPECT_EQ(check(build(oldest), c).error, ErrorCode::NONE);
  oldest.base_timestamp -= 1;
  EXPECT_EQ(check(build(oldest), c).error, ErrorCode::INVALID_TIMESTAMP);
  RawBatch latest;
  latest.base_timestamp = std::numeric_limits<int64_t>::max();
  c.timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(check(build(latest), c).error, ErrorCode::NONE);
}

TEST(BatchValidator, NoTimestampIsNotRangeChecked) {
  auto c = create_time();
  c.timestamp_before_max_ms = 0;
  c.timestamp_after_max_ms = 0;
  RawBatch s;
  s.base_timestamp = -1;
  EXPECT_EQ(check(build(s), c).error, ErrorCode::NONE);
}

TEST(BatchValidator, LogAppendTimeTopicSkipsTheWindow) {
  auto c = create_time();
  c.log_append_time = true;
  c.timestamp_after_max_ms = 0;
  RawBatch future;
  future.base_timestamp = kNow + 10'000'000;
  EXPECT_EQ(check(build(future), c).error, ErrorCode::NONE);
}

TEST(BatchValidator, ProducerMayNotClaimLogAppendTime) {
  RawBatch s;
  s.attributes = 0x08;
  s.records = {{}, {}};
  auto v = check(build(s));
  EXPECT_EQ(v.error, ErrorCode::INVALID_TIMESTAMP);
  EXPECT_EQ(v.record_errors.size(), 2u);
  auto c = create_time();
  c.log_append_time = true;
  EXPECT_EQ(check(build(s), c).error, ErrorCode::INVALID_TIMESTAMP);
}

TEST(BatchValidator, ProducerIdNeedsASequence) {
  RawBatch s;
  s.producer_id = 7;
  s.base_sequence = -1;
  EXPECT_EQ(check(build(s)).error, ErrorCode::INVALID_RECORD);
  s.base_sequence = 0;
  EXPECT_EQ(check(build(s)).error, ErrorCode::NONE);
  // kafkajs sends producerId -1 with sequence 0 and epoch 0; Kafka accepts it.
  s.producer_id = -1;
  EXPECT_EQ(check(build(s)).error, ErrorCode::NONE);
}

TEST(BatchValidator, CompressedBatchesAreValidatedInside) {
  for (int codec : {1, 4}) {
    RawBatch s;
    s.attributes = static_cast<int16_t>(codec);
    s.records = {{.timestamp_delta = 3}, {.timestamp_delta = 9}, {.timestamp_delta = 1}};
    s.max_timestamp = -1;
    auto b = build(s);
    auto v = check(b);
    ASSERT_EQ(v.error, ErrorCode::NONE) << codec << ": " << v.message;
    EXPECT_EQ(v.max_timestamp, kNow + 9) << codec;
    EXPECT_EQ(v.offset_delta_of_max_timestamp, 1) << codec;
    std::vector<uint8_t> scratch;
    EXPECT_EQ(max_timestamp_from_records(b, scratch), kNow + 9);

    RawBatch bad = s;
    bad.records[2].offset_delta = 7;
    EXPECT_EQ(check(build(bad)).error, ErrorCode::INVALID_RECORD) << codec;
    RawBatch miscount = s;
    miscount.record_count = 4;
    EXPECT_EQ(check(build(miscount)).error, ErrorCode::INVALID_RECORD) << codec;
    RawBatch late = s;
    late.records[1].timestamp_delta = 2 * 3600 * 1000;
    EXPECT_EQ(check(build(late)).error, ErrorCode::INVALID_TIMESTAMP) << codec;
  }
}

TEST(BatchValidator, UndecompressableBodyIsCorrupt) {
  RawBatch s;
  s.attributes = 4;  // zstd, but the body is plain records
  auto v = check(build(s, encode_records(s.records)));
  EXPECT_EQ(v.error, ErrorCode::CORRUPT_MESSAGE);
  EXPECT_NE(v.message.find("decompress"), std::string::npos);
}

TEST(BatchValidator, DecompressionBombIsRefused) {
  RawBatch s;
  s.attributes = 4;
  s.records = {{.value = std::string(1 << 20, 'x')}};
  auto c = create_time();
  c.max_inflated_bytes = 64 * 1024;
  EXPECT_EQ(check(build(s), c).error, ErrorCode::CORRUPT_MESSAGE);
  c.max_inflated_bytes = 4 << 20;
  EXPECT_EQ(check(build(s), c).error, ErrorCode::NONE);
}

TEST(BatchValidator, RecordErrorsSummaryShowsThreeAtMost) {
  RawBatch s;
  for (int i = 0; i < 5; ++i) s.records.push_back({.offset_delta = 100 + i});
  auto v = check(build(s));
  EXPECT_EQ(v.error, ErrorCode::INVALID_RECORD);
  EXPECT_EQ(v.record_errors.size(), 5u);  // the first record is right, the five others are not
  EXPECT_NE(v.message.find("5 record errors"), std::string::npos);
}

}  // namespace
}  // namespace runnel::protocol
