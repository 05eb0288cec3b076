// Records inside v2 batches: our own encoder round-trips, and batches
// compressed with each of Kafka's codecs decode to the same records.
#include "protocol/record_codec.h"

#include <gtest/gtest.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <limits>

#include "base/crc32c.h"
#include "base/endian.h"
#include "protocol/compression.h"
#include "protocol/reader.h"

namespace runnel::protocol {
namespace {

std::vector<Record> sample() {
  std::vector<Record> rs;
  for (int i = 0; i < 5; ++i) {
    Record r;
    r.key = std::vector<uint8_t>{uint8_t('k'), uint8_t('0' + i)};
    if (i != 3) r.value = std::vector<uint8_t>(100 + i, uint8_t('a' + i));
    rs.push_back(r);
  }
  return rs;
}

// Re-encodes `batch` with its records section compressed by `codec`.
std::vector<uint8_t> compress_batch(const std::vector<uint8_t>& batch, int codec) {
  constexpr size_t kHeader = 61;
  std::span<const uint8_t> body(batch.data() + kHeader, batch.size() - kHeader);
  std::vector<uint8_t> packed;
  switch (codec) {
    case 1: {
      z_stream zs{};
      deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
      packed.resize(deflateBound(&zs, body.size()) + 64);
      zs.next_in = const_cast<Bytef*>(body.data());
      zs.avail_in = body.size();
      zs.next_out = packed.data();
      zs.avail_out = packed.size();
      deflate(&zs, Z_FINISH);
      packed.resize(zs.total_out);
      deflateEnd(&zs);
      break;
    }
    case 2: {
      std::string out;
      snappy::Compress(reinterpret_cast<const char*>(body.data()), body.size(), &out);
      packed.assign(out.begin(), out.end());
      break;
    }
    case 3: {
      packed.resize(LZ4F_compressFrameBound(body.size(), nullptr));
      packed.resize(LZ4F_compressFrame(packed.data(), packed.size(), body.data(), body.size(), nullptr));
      break;
    }
    case 4: {
      packed.resize(ZSTD_compressBound(body.size()));
      packed.resize(ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(), 3));
      break;
    }
  }
  std::vector<uint8_t> out(batch.begin(), batch.begin() + kHeader);
  out.insert(out.end(), packed.begin(), packed.end());
  store_be16(out.data() + 21, static_cast<uint16_t>(codec));
  store_be32(out.data() + 8, static_cast<uint32_t>(out.size() - 12));
  store_be32(out.data() + 17, crc32c(std::span<const uint8_t>(out).subspan(21)));
  return out;
}

// A hostile header: base offset INT64_MAX, so that the second record's
// offset delta (1) runs past it. Kafka's Java sum wraps; so does ours (in C++
// a plain sum is undefined behaviour, which the fuzz tree's UBSan found; the
// timestamp's base + delta is summed the same way).
TEST(RecordCodec, OffsetDeltasWrapAsJavaDoes) {
  std::vector<uint8_t> batch = build_record_batch(sample(), 0);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  store_be64(batch.data(), static_cast<uint64_t>(kMax));  // base offset (outside the CRC)
  std::vector<Record> records = decode_record_batch(batch);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].offset, kMax);
  EXPECT_EQ(records[1].offset, std::numeric_limits<int64_t>::min());
}

TEST(RecordCodec, RoundTripsUncompressed) {
  auto batch = build_record_batch(sample(), 1234);
  auto decoded = decode_record_batch(batch);
  ASSERT_EQ(decoded.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(decoded[i].offset, i);
    EXPECT_EQ(decoded[i].timestamp, 1234);
    EXPECT_EQ(decoded[i].key, sample()[i].key);
    EXPECT_EQ(decoded[i].value, sample()[i].value);
  }
}

class CodecTest : public ::testing::TestWithParam<int> {};

TEST_P(CodecTest, DecodesCompressedBatches) {
  auto batch = compress_batch(build_record_batch(sample(), 99), GetParam());
  auto decoded = decode_record_batch(batch);
  ASSERT_EQ(decoded.size(), 5u);
  EXPECT_EQ(decoded[4].value, sample()[4].value);
  EXPECT_FALSE(decoded[3].value.has_value());
}

TEST_P(CodecTest, RejectsCorruptCompressedData) {
  auto batch = compress_batch(build_record_batch(sample(), 99), GetParam());
  for (size_t i = 61; i < batch.size(); i += 3) batch[i] ^= 0x5a;
  EXPECT_THROW(decode_record_batch(batch), DecodeError);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest, ::testing::Values(1, 2, 3, 4));

TEST(Compression, RefusesOutputBeyondTheLimit) {
  std::vector<uint8_t> zeros(1 << 20, 0);
  std::vector<uint8_t> packed(ZSTD_compressBound(zeros.size()));
  packed.resize(ZSTD_compress(packed.data(), packed.size(), zeros.data(), zeros.size(), 3));
  EXPECT_THROW(decompress(4, packed, 1000), DecodeError);
  EXPECT_EQ(decompress(4, packed).size(), zeros.size());
}

}  // namespace
}  // namespace runnel::protocol
