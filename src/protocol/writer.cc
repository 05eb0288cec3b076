#include "protocol/writer.h"

#include <cstring>

#include "base/endian.h"

namespace runnel::protocol {

uint64_t OutputFrame::total_size() const {
  uint64_t n = 0;
  for (const auto& p : pieces) n += p.file ? p.file->length : p.mem_end - p.mem_begin;
  return n;
}

uint64_t Records::size() const {
  uint64_t n = memory.size();
  for (const auto& f : files) n += f.length;
  return n;
}

void Writer::raw(std::span<const uint8_t> b) { frame_.buffer.insert(frame_.buffer.end(), b.begin(), b.end()); }

size_t Writer::reserve(size_t n) {
  size_t at = frame_.buffer.size();
  frame_.buffer.resize(at + n);
  return at;
}

size_t Writer::size() const { return frame_.buffer.size() + file_bytes_; }

// reserve() may reallocate the buffer, so it must run before data() is taken.
void Writer::i8(int8_t v) { frame_.buffer.push_back(static_cast<uint8_t>(v)); }
void Writer::i16(int16_t v) {
  size_t at = reserve(2);
  store_be16(frame_.buffer.data() + at, static_cast<uint16_t>(v));
}
void Writer::u16(uint16_t v) {
  size_t at = reserve(2);
  store_be16(frame_.buffer.data() + at, v);
}
void Writer::i32(int32_t v) {
  size_t at = reserve(4);
  store_be32(frame_.buffer.data() + at, static_cast<uint32_t>(v));
}
void Writer::u32(uint32_t v) {
  size_t at = reserve(4);
  store_be32(frame_.buffer.data() + at, v);
}
void Writer::i64(int64_t v) {
  size_t at = reserve(8);
  store_be64(frame_.buffer.data() + at, static_cast<uint64_t>(v));
}

void Writer::f64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  size_t at = reserve(8);
  store_be64(frame_.buffer.data() + at, bits);
}

void Writer::uvarint(uint32_t v) {
  while (v >= 0x80) {
    frame_.buffer.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  frame_.buffer.push_back(static_cast<uint8_t>(v));
}

void Writer::varint(int32_t v) { uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }

void Writer::varlong(int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    frame_.buffer.push_back(static_cast<uint8_t>(z | 0x80));
    z >>= 7;
  }
  frame_.buffer.push_back(static_cast<uint8_t>(z));
}

void Writer::uuid(const Uuid& u) { raw(u); }

void Writer::string(std::string_view s) {
  i16(static_cast<int16_t>(s.size()));
  raw({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

void Writer::nullable_string(const std::optional<std::string>& s) {
  if (!s) return i16(-1);
  string(*s);
}

void Writer::compact_string(std::string_view s) {
  uvarint(static_cast<uint32_t>(s.size() + 1));
  raw({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

void Writer::compact_nullable_string(const std::optional<std::string>& s) {
  if (!s) return uvarint(0);
  compact_string(*s);
}

void Writer::bytes(std::span<const uint8_t> b) {
  i32(static_cast<int32_t>(b.size()));
  raw(b);
}

void Writer::nullable_bytes(const std::optional<std::span<const uint8_t>>& b) {
  if (!b) return i32(-1);
  bytes(*b);
}

void Writer::compact_bytes(std::span<const uint8_t> b) {
  uvarint(static_cast<uint32_t>(b.size() + 1));
  raw(b);
}

void Writer::compact_nullable_bytes(const std::optional<std::span<const uint8_t>>& b) {
  if (!b) return uvarint(0);
  compact_bytes(*b);
}

void Writer::array_length(int32_t n) { i32(n); }
void Writer::compact_array_length(int32_t n) { uvarint(n < 0 ? 0 : static_cast<uint32_t>(n) + 1); }

void Writer::records(const Records& r, bool compact) {
  if (r.is_null) {
    if (compact)
      uvarint(0);
    else
      i32(-1);
    return;
  }
  uint64_t n = r.size();
  if (compact)
    uvarint(static_cast<uint32_t>(n + 1));
  else
    i32(static_cast<int32_t>(n));
  raw(r.memory);
  for (const auto& f : r.files) file(f);
}

void Writer::file(const FileSlice& s) {
  if (s.length == 0) return;
  frame_.pieces.push_back({piece_begin_, frame_.buffer.size(), std::nullopt});
  frame_.pieces.push_back({0, 0, s});
  piece_begin_ = frame_.buffer.size();
  file_bytes_ += s.length;
}

OutputFrame Writer::finish() && {
  frame_.pieces.push_back({piece_begin_, frame_.buffer.size(), std::nullopt});
  return std::move(frame_);
}

}  // namespace runnel::protocol
