#include "protocol/record_codec.h"

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/wrapping.h"
#include "protocol/compression.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::protocol {
using namespace batch_layout;
namespace {

void write_optional_varbytes(Writer& w, const std::optional<std::vector<uint8_t>>& b) {
  if (!b) return w.varint(-1);
  w.varint(static_cast<int32_t>(b->size()));
  w.raw(*b);
}

std::optional<std::vector<uint8_t>> read_optional_varbytes(Reader& r) {
  int32_t n = r.varint();
  if (n < -1) throw DecodeError("negative record field length");
  if (n == -1) return std::nullopt;
  auto s = r.take(static_cast<size_t>(n));
  return std::vector<uint8_t>(s.begin(), s.end());
}
}  // namespace

std::vector<uint8_t> build_record_batch(const std::vector<Record>& records, int64_t timestamp) {
  Writer w;
  w.i64(0);                                         // base offset
  w.i32(0);                                         // length, patched below
  w.i32(-1);                                        // partition leader epoch
  w.i8(2);                                          // magic
  w.u32(0);                                         // crc, patched below
  w.i16(0);                                         // attributes: no compression, CreateTime
  w.i32(static_cast<int32_t>(records.size()) - 1);  // last offset delta
  w.i64(timestamp);                                 // base timestamp
  w.i64(timestamp);                                 // max timestamp
  w.i64(-1);                                        // producer id
  w.i16(-1);                                        // producer epoch
  w.i32(-1);                                        // base sequence
  w.i32(static_cast<int32_t>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) {
    Writer body;
    body.i8(0);                            // record attributes
    body.varlong(0);                       // timestamp delta
    body.varint(static_cast<int32_t>(i));  // offset delta
    write_optional_varbytes(body, records[i].key);
    write_optional_varbytes(body, records[i].value);
    body.varint(static_cast<int32_t>(records[i].headers.size()));
    for (const auto& h : records[i].headers) {
      body.varint(static_cast<int32_t>(h.key.size()));
      body.raw(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(h.key.data()), h.key.size()));
      write_optional_varbytes(body, h.value);
    }
    auto frame = std::move(body).finish();
    w.varint(static_cast<int32_t>(frame.buffer.size()));
    w.raw(frame.buffer);
  }
  auto out = std::move(w).finish().buffer;
  store_be32(out.data() + kLengthOffset, static_cast<uint32_t>(out.size() - 12));
  store_be32(out.data() + kCrcOffset, crc32c(std::span<const uint8_t>(out).subspan(kAttributesOffset)));
  return out;
}

std::vector<Record> decode_record_batch(std::span<const uint8_t> batch) {
  if (batch.size() < kBatchHeaderSize) throw DecodeError("record batch shorter than its header");
  if (batch[kMagicOffset] != 2) throw DecodeError("record batch magic is not 2");
  Reader header(batch);
  int64_t base_offset = header.i64();
  int32_t length = header.i32();
  if (length < 0 || static_cast<size_t>(length) + 12 != batch.size()) throw DecodeError("record batch length mismatch");
  header.take(4 + 1 + 4);  // leader epoch, magic, crc
  int16_t attributes = header.i16();
  header.i32();  // last offset delta
  int64_t base_timestamp = header.i64();
  int64_t max_timestamp = header.i64();
  header.take(8 + 2 + 4);  // producer id/epoch, base sequence
  int32_t count = header.i32();
  if (count < 0) throw DecodeError("negative record count");
  std::vector<uint8_t> inflated;
  if (int codec = attributes & kCompressionMask) {
    inflated = decompress(codec, header.take(header.remaining()));
    header = Reader(inflated);
  }
  const bool log_append_time = attributes & kTimestampTypeBit;
  std::vector<Record> out;
  for (int32_t i = 0; i < count; ++i) {
    int32_t size = header.varint();
    if (size < 0) throw DecodeError("negative record size");
    Reader r(header.take(static_cast<size_t>(size)));
    Record rec;
    r.i8();
    rec.timestamp = wrapping_add(base_timestamp, r.varlong());
    // With LogAppendTime every record carries the broker's time, kept in the header.
    if (log_append_time) rec.timestamp = max_timestamp;
    rec.offset = wrapping_add(base_offset, r.varint());
    rec.key = read_optional_varbytes(r);
    rec.value = read_optional_varbytes(r);
    int32_t headers = r.varint();
    for (int32_t h = 0; h < headers; ++h) {
      int32_t key_size = r.varint();
      if (key_size < 0) throw DecodeError("negative header key length");
      auto key = r.take(static_cast<size_t>(key_size));
      RecordHeader header{std::string(key.begin(), key.end()), read_optional_varbytes(r)};
      rec.headers.push_back(std::move(header));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace runnel::protocol
