#pragma once
// Bounds-checked decoder of Kafka protocol primitives over a byte span.
// Every read that would run past the end, or meets a negative length other than
// the null marker, throws DecodeError: a malformed request never reads outside
// its frame. Not thread-safe (one reader per request).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace runnel::protocol {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Uuid = std::array<uint8_t, 16>;

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  int8_t i8();
  int16_t i16();
  int32_t i32();
  int64_t i64();
  uint16_t u16();
  uint32_t u32();
  double f64();
  bool boolean() { return i8() != 0; }
  int32_t varint();    // zig-zag
  int64_t varlong();   // zig-zag
  uint32_t uvarint();  // unsigned, as used by compact lengths and tagged fields
  Uuid uuid();

  // Classic (int16 length) and compact (uvarint length+1) strings.
  std::string string();
  std::optional<std::string> nullable_string();
  std::string compact_string();
  std::optional<std::string> compact_nullable_string();

  // Bytes are returned as views into the underlying buffer (no copy).
  std::span<const uint8_t> bytes();
  std::optional<std::span<const uint8_t>> nullable_bytes();
  std::span<const uint8_t> compact_bytes();
  std::optional<std::span<const uint8_t>> compact_nullable_bytes();

  // Array lengths: -1 (classic) or 0 (compact) mean null and return -1.
  // A length larger than the bytes left cannot be honest, and throws.
  int32_t array_length();
  int32_t compact_array_length();

  // Reads a tagged-field section and discards every field (we define none we
  // must understand yet); its contents are bounds-checked all the same.
  void skip_tagged_fields();

  std::span<const uint8_t> take(size_t n);
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  void need(size_t n) const;
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace runnel::protocol
