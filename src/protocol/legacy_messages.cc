#include "protocol/legacy_messages.h"

#include <zlib.h>

#include <optional>

#include "base/crc32c.h"
#include "base/endian.h"
#include "protocol/compression.h"
#include "protocol/compressor.h"
#include "protocol/reader.h"
#include "protocol/record_batch.h"
#include "protocol/writer.h"

namespace runnel::protocol {
namespace {

// Offset, message size, CRC, magic, attributes.
constexpr size_t kLogOverhead = 12;
constexpr size_t kMinMessage = 4 + 1 + 1 + 4 + 4;  // crc, magic, attributes, key and value lengths

struct LegacyRecord {
  int64_t timestamp = -1;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;
};

struct Failure {
  ErrorCode error;
  const char* message;
};

std::optional<std::span<const uint8_t>> nullable_bytes(Reader& r) {
  int32_t n = r.i32();
  if (n < 0) return std::nullopt;
  return r.take(static_cast<size_t>(n));
}

// Appends the records of one message set to `out`; `inner` for a wrapper's
// contents (no further compression allowed). `keep` holds the decompressed
// bodies the records' spans point into.
void read_message_set(std::span<const uint8_t> bytes, bool inner, std::optional<int64_t> wrapper_time,
                      std::vector<LegacyRecord>& out, int& codec, std::vector<std::vector<uint8_t>>& keep) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < kLogOverhead) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Truncated message"};
    int32_t size = static_cast<int32_t>(load_be32(bytes.data() + pos + 8));
    if (size < static_cast<int32_t>(kMinMessage) || static_cast<size_t>(size) > bytes.size() - pos - kLogOverhead)
      throw Failure{ErrorCode::CORRUPT_MESSAGE, "Message size is out of range"};
    auto message = bytes.subspan(pos + kLogOverhead, static_cast<size_t>(size));
    pos += kLogOverhead + static_cast<size_t>(size);
    uint32_t stored_crc = load_be32(message.data());
    uint32_t crc = static_cast<uint32_t>(::crc32(0L, message.data() + 4, static_cast<uInt>(message.size() - 4)));
    if (crc != stored_crc) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Message is corrupt (CRC mismatch)"};
    Reader r(message.subspan(4));
    int8_t magic = r.i8();
    if (magic != 0 && magic != 1) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Message magic is not 0 or 1"};
    int8_t attributes = r.i8();
    int64_t timestamp = magic == 1 ? r.i64() : -1;
    auto key = nullable_bytes(r);
    auto value = nullable_bytes(r);
    if (r.remaining() != 0) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Message has trailing bytes"};
    int message_codec = attributes & 0x07;
    if (message_codec == 0) {
      // A v1 wrapper with LogAppendTime gives its inner messages its time.
      out.push_back({wrapper_time.value_or(timestamp), key, value});
      continue;
    }
    if (inner) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Compressed message inside a compressed message"};
    if (message_codec == 4)
      throw Failure{ErrorCode::UNSUPPORTED_COMPRESSION_TYPE, "ZStandard needs the record batch v2 format"};
    if (message_codec > 4 || !value) throw Failure{ErrorCode::CORRUPT_MESSAGE, "Bad compressed message"};
    codec = message_codec;
    try {
      keep.push_back(decompress(message_codec, *value));
    } catch (const DecodeError&) {
      throw Failure{ErrorCode::CORRUPT_MESSAGE, "Compressed message does not decompress"};
    }
    const bool log_append_time = magic == 1 && (attributes & 0x08);
    read_message_set(keep.back(), /*inner=*/true, log_append_time ? std::optional<int64_t>(timestamp) : std::nullopt,
                     out, codec, keep);
  }
}

void write_varbytes(Writer& w, const std::optional<std::span<const uint8_t>>& b) {
  if (!b) {
    w.varint(-1);
    return;
  }
  w.varint(static_cast<int32_t>(b->size()));
  w.raw(*b);
}

// One uncompressed v2 batch of `records` (CreateTime, base offset 0).
std::vector<uint8_t> build_batch(const std::vector<LegacyRecord>& records) {
  int64_t base_ts = records.front().timestamp;
  int64_t max_ts = -1;
  for (const auto& r : records) max_ts = std::max(max_ts, r.timestamp);
  Writer w;
  w.i64(0);
  w.i32(0);  // length, below
  w.i32(-1);
  w.i8(kBatchMagicV2);
  w.u32(0);  // crc, below
  w.i16(0);
  w.i32(static_cast<int32_t>(records.size()) - 1);
  w.i64(base_ts);
  w.i64(max_ts);
  w.i64(-1);
  w.i16(-1);
  w.i32(-1);
  w.i32(static_cast<int32_t>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) {
    Writer body;
    body.i8(0);
    body.varlong(records[i].timestamp - base_ts);
    body.varint(static_cast<int32_t>(i));
    write_varbytes(body, records[i].key);
    write_varbytes(body, records[i].value);
    body.varint(0);
    auto frame = std::move(body).finish();
    w.varint(static_cast<int32_t>(frame.buffer.size()));
    w.raw(frame.buffer);
  }
  auto out = std::move(w).finish().buffer;
  store_be32(out.data() + 8, static_cast<uint32_t>(out.size() - kBatchLogOverhead));
  store_be32(out.data() + 17, crc32c(std::span<const uint8_t>(out).subspan(21)));
  return out;
}

}  // namespace

int legacy_magic(std::span<const uint8_t> bytes) { return bytes.size() > 16 ? static_cast<int8_t>(bytes[16]) : -1; }

LegacyConversion upconvert_message_set(std::span<const uint8_t> bytes) {
  LegacyConversion result;
  std::vector<LegacyRecord> records;
  std::vector<std::vector<uint8_t>> keep;
  int codec = 0;
  try {
    read_message_set(bytes, /*inner=*/false, std::nullopt, records, codec, keep);
  } catch (const Failure& f) {
    result.error = f.error;
    result.message = f.message;
    return result;
  } catch (const DecodeError&) {
    result.error = ErrorCode::CORRUPT_MESSAGE;
    result.message = "Malformed message";
    return result;
  }
  if (records.empty()) {
    result.error = ErrorCode::INVALID_RECORD;
    result.message = "Message set holds no message";
    return result;
  }
  result.batch = build_batch(records);
  if (codec != 0) {
    auto body = std::span<const uint8_t>(result.batch).subspan(kBatchHeaderSize);
    result.batch = recompress_batch(result.batch, body, codec, default_compression_level(codec));
  }
  return result;
}

}  // namespace runnel::protocol
