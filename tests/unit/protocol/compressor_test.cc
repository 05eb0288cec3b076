// Recompression of a batch into each of Kafka's codecs: the result is a valid
// batch (CRC, length, codec bits), decodes to the same records, keeps every
// header field but those, and converts back and forth between codecs.
#include "protocol/compressor.h"

#include <gtest/gtest.h>

#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

namespace runnel::protocol {
namespace {

std::vector<Record> sample(int n) {
  std::vector<Record> rs;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.key = std::vector<uint8_t>{uint8_t('k'), uint8_t('0' + i % 10)};
    if (i % 7 != 3) r.value = std::vector<uint8_t>(100 + i, uint8_t('a' + i % 26));
    rs.push_back(r);
  }
  return rs;
}

std::span<const uint8_t> body(const std::vector<uint8_t>& batch) {
  return std::span<const uint8_t>(batch).subspan(kBatchHeaderSize);
}

TEST(Compressor, EveryCodecRoundTripsThroughTheDecoder) {
  // 3,000 records of ~1 KiB: several snappy (32 KiB) and lz4 (64 KiB) blocks.
  auto records = sample(3000);
  auto plain = build_record_batch(records, 1700000000000);
  for (int codec = 1; codec <= 4; ++codec) {
    SCOPED_TRACE(codec);
    auto packed = recompress_batch(plain, body(plain), codec, default_compression_level(codec));
    EXPECT_EQ(validate_batch(packed), ErrorCode::NONE);
    BatchView v(packed);
    EXPECT_EQ(v.compression_id(), codec);
    EXPECT_LT(packed.size(), plain.size());
    EXPECT_EQ(decompress(codec, body(packed)), std::vector<uint8_t>(body(plain).begin(), body(plain).end()));
    auto decoded = decode_record_batch(packed);
    ASSERT_EQ(decoded.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(decoded[i].key, records[i].key);
      EXPECT_EQ(decoded[i].value, records[i].value);
    }
    // Everything but the length, CRC and codec bits is the original header.
    BatchView p(plain);
    EXPECT_EQ(v.base_offset(), p.base_offset());
    EXPECT_EQ(v.last_offset_delta(), p.last_offset_delta());
    EXPECT_EQ(v.max_timestamp(), p.max_timestamp());
    EXPECT_EQ(v.producer_id(), p.producer_id());
    EXPECT_EQ(v.record_count(), p.record_count());
    EXPECT_EQ(v.attributes() & ~0x07, p.attributes() & ~0x07);
    // And back to uncompressed, byte for byte.
    auto inflated = decompress(codec, body(packed));
    EXPECT_EQ(recompress_batch(packed, inflated, 0, 0), plain);
  }
}

TEST(Compressor, LevelsAndEmptyInput) {
  auto plain = build_record_batch(sample(50), 1700000000000);
  for (int level : {1, 9}) EXPECT_EQ(decode_record_batch(recompress_batch(plain, body(plain), 1, level)).size(), 50u);
  for (int level : {1, 17}) EXPECT_EQ(decode_record_batch(recompress_batch(plain, body(plain), 3, level)).size(), 50u);
  for (int level : {-5, 22}) EXPECT_EQ(decode_record_batch(recompress_batch(plain, body(plain), 4, level)).size(), 50u);
  for (int codec = 1; codec <= 4; ++codec) EXPECT_TRUE(decompress(codec, compress(codec, {}, -1)).empty());
  EXPECT_THROW(compress(5, body(plain), 0), std::runtime_error);
}

}  // namespace
}  // namespace runnel::protocol
