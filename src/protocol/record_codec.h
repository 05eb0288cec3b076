#pragma once
// Encoding and decoding of individual records inside a record batch v2, for
// the broker's own use (the __consumer_offsets topic, exact timestamp lookups).
// Client batches are never re-encoded: the broker stores them as received.
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runnel::protocol {

struct RecordHeader {
  std::string key;
  std::optional<std::vector<uint8_t>> value;  // a header's value may be null
};

struct Record {
  int64_t offset = 0;     // absolute (base offset + delta) when decoded
  int64_t timestamp = 0;  // absolute
  std::optional<std::vector<uint8_t>> key;
  std::optional<std::vector<uint8_t>> value;  // nullopt: a tombstone
  std::vector<RecordHeader> headers;          // in the order sent; keys may repeat
};

// Builds one uncompressed v2 batch (base offset 0: the log assigns offsets),
// with a valid CRC-32C.
std::vector<uint8_t> build_record_batch(const std::vector<Record>& records, int64_t timestamp);

// Decodes the records of one v2 batch (`batch` is the whole batch, header
// included), decompressing it when it must. Throws DecodeError on malformed input.
std::vector<Record> decode_record_batch(std::span<const uint8_t> batch);

}  // namespace runnel::protocol
