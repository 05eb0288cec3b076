#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "base/endian.h"
#include "protocol/reader.h"

namespace runnel::protocol {
namespace {

constexpr size_t kChunk = 64 * 1024;

void check_size(size_t n, size_t max_output) {
  if (n > max_output) throw DecodeError("decompressed batch exceeds the size limit");
}

// One decompression context per codec and thread, reset before each use:
// creating one allocates its window and tables (a zstd context holds over
// 100 KiB), which costs more than decompressing a typical produced batch.
struct ZlibContext {
  z_stream zs{};
  bool ready = inflateInit2(&zs, 15 + 32) == Z_OK;
  ~ZlibContext() {
    if (ready) inflateEnd(&zs);
  }
};

z_stream& zlib_context() {
  thread_local ZlibContext ctx;
  if (!ctx.ready || inflateReset(&ctx.zs) != Z_OK) throw DecodeError("zlib init failed");
  return ctx.zs;
}

LZ4F_dctx* lz4_context() {
  thread_local std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> ctx = [] {
    LZ4F_dctx* c = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&c, LZ4F_VERSION))) c = nullptr;
    return std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)>(c, LZ4F_freeDecompressionContext);
  }();
  if (!ctx) throw DecodeError("lz4 init failed");
  LZ4F_resetDecompressionContext(ctx.get());
  return ctx.get();
}

ZSTD_DCtx* zstd_context() {
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx || ZSTD_isError(ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only))) throw DecodeError("zstd init failed");
  return ctx.get();
}

void gunzip(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_output) {
  z_stream& zs = zlib_context();
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    size_t at = out.size();
    out.resize(at + kChunk);
    zs.next_out = out.data() + at;
    zs.avail_out = kChunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(at + kChunk - zs.avail_out);
    check_size(out.size(), max_output);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK) throw DecodeError("corrupt gzip data");
    if (zs.avail_in == 0 && zs.avail_out != 0) throw DecodeError("truncated gzip data");
  }
}

void snappy_raw(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_output) {
  size_t n = 0;
  auto* p = reinterpret_cast<const char*>(in.data());
  if (!snappy::GetUncompressedLength(p, in.size(), &n)) throw DecodeError("corrupt snappy data");
  check_size(out.size() + n, max_output);
  size_t at = out.size();
  out.resize(at + n);
  if (!snappy::RawUncompress(p, in.size(), reinterpret_cast<char*>(out.data() + at)))
    throw DecodeError("corrupt snappy data");
}

void unsnappy(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_output) {
  static const uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
  if (in.size() < 16 || std::memcmp(in.data(), kXerialMagic, 8) != 0) {
    snappy_raw(in, out, max_output);
    return;
  }
  // Xerial framing (what the Java client writes): magic, version, compatible
  // version, then blocks of [int32 length][raw snappy].
  size_t pos = 16;
  while (pos < in.size()) {
    if (in.size() - pos < 4) throw DecodeError("truncated snappy block header");
    uint32_t len = load_be32(in.data() + pos);
    pos += 4;
    if (len > in.size() - pos) throw DecodeError("truncated snappy block");
    snappy_raw(in.subspan(pos, len), out, max_output);
    pos += len;
  }
}

void unlz4(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_output) {
  LZ4F_dctx* ctx = lz4_context();
  size_t pos = 0;
  size_t hint = 1;
  while (pos < in.size() && hint != 0) {
    size_t at = out.size();
    out.resize(at + kChunk);
    size_t out_size = kChunk;
    size_t in_size = in.size() - pos;
    hint = LZ4F_decompress(ctx, out.data() + at, &out_size, in.data() + pos, &in_size, nullptr);
    if (LZ4F_isError(hint)) throw DecodeError("corrupt lz4 data");
    pos += in_size;
    out.resize(at + out_size);
    check_size(out.size(), max_output);
    if (in_size == 0 && out_size == 0) throw DecodeError("lz4 made no progress");
  }
  if (hint != 0) throw DecodeError("truncated lz4 data");
}

void unzstd(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t max_output) {
  ZSTD_DCtx* ctx = zstd_context();
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t rc = 1;
  while (input.pos < input.size || rc != 0) {
    size_t at = out.size();
    out.resize(at + kChunk);
    ZSTD_outBuffer output{out.data() + at, kChunk, 0};
    rc = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(rc)) throw DecodeError("corrupt zstd data");
    out.resize(at + output.pos);
    check_size(out.size(), max_output);
    if (input.pos == input.size && output.pos == 0 && rc != 0) throw DecodeError("truncated zstd data");
  }
}

}  // namespace

void decompress_into(int codec, std::span<const uint8_t> input, std::vector<uint8_t>& out, size_t max_output) {
  out.clear();
  switch (codec) {
    case 1:
      return gunzip(input, out, max_output);
    case 2:
      return unsnappy(input, out, max_output);
    case 3:
      return unlz4(input, out, max_output);
    case 4:
      return unzstd(input, out, max_output);
    default:
      throw DecodeError("unknown compression codec");
  }
}

std::vector<uint8_t> decompress(int codec, std::span<const uint8_t> input, size_t max_output) {
  std::vector<uint8_t> out;
  decompress_into(codec, input, out, max_output);
  return out;
}

}  // namespace runnel::protocol
