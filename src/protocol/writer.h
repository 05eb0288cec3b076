#pragma once
// Encoder of Kafka protocol primitives into an OutputFrame. Besides bytes, a
// frame can carry file slices (record batches on disk), so a Fetch response is
// written with sendfile and never copied through user space. Not thread-safe.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/file_slice.h"
#include "protocol/reader.h"  // Uuid

namespace runnel::protocol {

// The bytes of one encoded message: a memory buffer with file slices spliced in.
// Piece i is either buffer[mem_begin, mem_end) or a file slice.
struct OutputFrame {
  struct Piece {
    size_t mem_begin = 0;
    size_t mem_end = 0;
    std::optional<FileSlice> file;
  };
  std::vector<uint8_t> buffer;
  std::vector<Piece> pieces;  // completed by Writer::finish()
  uint64_t total_size() const;
};

// The value of a `records` field: null, or a run of batches held in memory
// and/or in files. Requests decode into `memory` (a view into the request frame).
struct Records {
  bool is_null = true;
  std::span<const uint8_t> memory;
  std::vector<FileSlice> files;  // written after `memory`
  uint64_t size() const;
  static Records of(std::span<const uint8_t> bytes) { return Records{false, bytes, {}}; }
};

class Writer {
 public:
  Writer() = default;

  void i8(int8_t v);
  void i16(int16_t v);
  void i32(int32_t v);
  void i64(int64_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void f64(double v);
  void boolean(bool v) { i8(v ? 1 : 0); }
  void varint(int32_t v);
  void varlong(int64_t v);
  void uvarint(uint32_t v);
  void uuid(const Uuid& u);

  void string(std::string_view s);
  void nullable_string(const std::optional<std::string>& s);
  void compact_string(std::string_view s);
  void compact_nullable_string(const std::optional<std::string>& s);

  void bytes(std::span<const uint8_t> b);
  void nullable_bytes(const std::optional<std::span<const uint8_t>>& b);
  void compact_bytes(std::span<const uint8_t> b);
  void compact_nullable_bytes(const std::optional<std::span<const uint8_t>>& b);

  void array_length(int32_t n);          // -1 for null
  void compact_array_length(int32_t n);  // -1 for null
  void empty_tagged_fields() { uvarint(0); }

  // A records field (classic: int32 length; compact: uvarint length + 1).
  void records(const Records& r, bool compact);

  void raw(std::span<const uint8_t> b);
  // Reserves n bytes and returns their offset, to patch a length later.
  size_t reserve(size_t n);
  uint8_t* at(size_t offset) { return frame_.buffer.data() + offset; }
  size_t size() const;  // bytes written so far, file slices included

  // Closes the last memory piece and hands over the frame.
  OutputFrame finish() &&;

 private:
  void file(const FileSlice& s);
  OutputFrame frame_;
  size_t piece_begin_ = 0;
  uint64_t file_bytes_ = 0;
};

}  // namespace runnel::protocol
