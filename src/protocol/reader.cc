#include "protocol/reader.h"

#include <cstring>

#include "base/endian.h"

namespace runnel::protocol {

void Reader::need(size_t n) const {
  if (n > data_.size() - pos_) throw DecodeError("truncated field");
}

std::span<const uint8_t> Reader::take(size_t n) {
  need(n);
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

int8_t Reader::i8() { return static_cast<int8_t>(take(1)[0]); }
int16_t Reader::i16() { return static_cast<int16_t>(load_be16(take(2).data())); }
uint16_t Reader::u16() { return load_be16(take(2).data()); }
int32_t Reader::i32() { return static_cast<int32_t>(load_be32(take(4).data())); }
uint32_t Reader::u32() { return load_be32(take(4).data()); }
int64_t Reader::i64() { return static_cast<int64_t>(load_be64(take(8).data())); }

double Reader::f64() {
  uint64_t bits = load_be64(take(8).data());
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

uint32_t Reader::uvarint() {
  uint32_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    uint8_t b = take(1)[0];
    if (shift == 28 && (b & 0xf0) != 0) throw DecodeError("varint too long");
    value |= uint32_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return value;
  }
  throw DecodeError("varint too long");
}

int32_t Reader::varint() {
  uint32_t raw = uvarint();
  return static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
}

int64_t Reader::varlong() {
  uint64_t raw = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint8_t b = take(1)[0];
    if (shift == 63 && (b & 0xfe) != 0) throw DecodeError("varlong too long");
    raw |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  throw DecodeError("varlong too long");
}

Uuid Reader::uuid() {
  Uuid u;
  auto s = take(16);
  std::memcpy(u.data(), s.data(), 16);
  return u;
}

std::string Reader::string() {
  auto s = nullable_string();
  if (!s) throw DecodeError("null string where none allowed");
  return std::move(*s);
}

std::optional<std::string> Reader::nullable_string() {
  int16_t len = i16();
  if (len == -1) return std::nullopt;
  if (len < 0) throw DecodeError("negative string length");
  auto s = take(size_t(len));
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::string Reader::compact_string() {
  auto s = compact_nullable_string();
  if (!s) throw DecodeError("null string where none allowed");
  return std::move(*s);
}

std::optional<std::string> Reader::compact_nullable_string() {
  uint32_t n = uvarint();
  if (n == 0) return std::nullopt;
  auto s = take(n - 1);
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::span<const uint8_t> Reader::bytes() {
  auto b = nullable_bytes();
  if (!b) throw DecodeError("null bytes where none allowed");
  return *b;
}

std::optional<std::span<const uint8_t>> Reader::nullable_bytes() {
  int32_t len = i32();
  if (len == -1) return std::nullopt;
  if (len < 0) throw DecodeError("negative bytes length");
  return take(size_t(len));
}

std::span<const uint8_t> Reader::compact_bytes() {
  auto b = compact_nullable_bytes();
  if (!b) throw DecodeError("null bytes where none allowed");
  return *b;
}

std::optional<std::span<const uint8_t>> Reader::compact_nullable_bytes() {
  uint32_t n = uvarint();
  if (n == 0) return std::nullopt;
  return take(n - 1);
}

int32_t Reader::array_length() {
  int32_t n = i32();
  if (n == -1) return -1;
  if (n < 0) throw DecodeError("negative array length");
  if (size_t(n) > remaining()) throw DecodeError("array longer than frame");
  return n;
}

int32_t Reader::compact_array_length() {
  uint32_t n = uvarint();
  if (n == 0) return -1;
  if (size_t(n - 1) > remaining()) throw DecodeError("array longer than frame");
  return static_cast<int32_t>(n - 1);
}

void Reader::skip_tagged_fields() {
  uint32_t count = uvarint();
  for (uint32_t i = 0; i < count; ++i) {
    uvarint();  // tag
    uint32_t size = uvarint();
    take(size);
  }
}

}  // namespace runnel::protocol
