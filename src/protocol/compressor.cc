#include "protocol/compressor.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "base/crc32c.h"
#include "base/endian.h"
#include "protocol/record_batch.h"

namespace runnel::protocol {
namespace {

std::vector<uint8_t> gzip(std::span<const uint8_t> in, int level) {
  z_stream zs{};
  // 15 + 16: a gzip header and trailer, as java.util.zip.GZIPOutputStream writes.
  if (deflateInit2(&zs, level < 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("zlib init failed");
  std::vector<uint8_t> out(deflateBound(&zs, in.size()) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip compression failed");
  return out;
}

// xerial's SnappyOutputStream: a magic header, then blocks of [int32 length]
// [raw snappy] of at most 32 KiB of input each (its default block size).
std::vector<uint8_t> snappy_xerial(std::span<const uint8_t> in) {
  static const uint8_t kHeader[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
  constexpr size_t kBlock = 32 * 1024;
  std::vector<uint8_t> out(std::begin(kHeader), std::end(kHeader));
  for (size_t pos = 0; pos < in.size(); pos += kBlock) {
    size_t n = std::min(kBlock, in.size() - pos);
    size_t at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(n));
    size_t written = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data() + pos), n, reinterpret_cast<char*>(out.data() + at + 4),
                        &written);
    store_be32(out.data() + at, static_cast<uint32_t>(written));
    out.resize(at + 4 + written);
  }
  return out;
}

// Kafka's KafkaLZ4BlockOutputStream: an lz4 frame of independent 64 KiB blocks
// without content size or checksums (Kafka's reader takes exactly that).
std::vector<uint8_t> lz4(std::span<const uint8_t> in, int level) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.compressionLevel = level;
  std::vector<uint8_t> out(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) throw std::runtime_error(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> zstd(std::span<const uint8_t> in, int level) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

}  // namespace

int default_compression_level(int codec) {
  switch (codec) {
    case 1:
      return -1;
    case 3:
      return 9;
    case 4:
      return 3;
    default:
      return 0;
  }
}

std::vector<uint8_t> compress(int codec, std::span<const uint8_t> input, int level) {
  switch (codec) {
    case 1:
      return gzip(input, level);
    case 2:
      return snappy_xerial(input);
    case 3:
      return lz4(input, level);
    case 4:
      return zstd(input, level);
    default:
      throw std::runtime_error("unknown compression codec " + std::to_string(codec));
  }
}

std::vector<uint8_t> recompress_batch(std::span<const uint8_t> batch, std::span<const uint8_t> records, int codec,
                                      int level) {
  std::vector<uint8_t> body =
      codec == 0 ? std::vector<uint8_t>(records.begin(), records.end()) : compress(codec, records, level);
  std::vector<uint8_t> out(kBatchHeaderSize + body.size());
  std::memcpy(out.data(), batch.data(), kBatchHeaderSize);
  if (!body.empty()) std::memcpy(out.data() + kBatchHeaderSize, body.data(), body.size());
  store_be32(out.data() + 8, static_cast<uint32_t>(out.size() - kBatchLogOverhead));
  uint16_t attributes = static_cast<uint16_t>((BatchView(batch).attributes() & ~0x07) | codec);
  store_be16(out.data() + 21, attributes);
  store_be32(out.data() + 17, crc32c(std::span<const uint8_t>(out).subspan(21)));
  return out;
}

}  // namespace runnel::protocol
