#pragma once
// Kafka's message formats v0 and v1 (magic 0 and 1, the message sets of
// Produce v0-2, before 0.11), up-converted to one record batch v2 as Kafka
// 3.x's LogValidator converts them for a topic in the v2 format: records in
// order with fresh offset deltas, key and value kept, v1 timestamps kept (a
// v0 message has none: -1), no producer id. A compressed wrapper message
// (gzip, snappy, lz4) is opened and its inner messages taken; the batch is
// compressed again with the wrapper's codec, as Kafka keeps the producer's
// codec. Every message's CRC-32 is checked.
//
// Errors as Kafka gives them: CORRUPT_MESSAGE for a bad CRC, a truncated or
// malformed message, a body that does not decompress, or nested compression;
// UNSUPPORTED_COMPRESSION_TYPE for zstd (it needs the v2 format);
// INVALID_RECORD for an empty message set.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error_code.h"

namespace runnel::protocol {

struct LegacyConversion {
  ErrorCode error = ErrorCode::NONE;
  std::string message;         // with an error
  std::vector<uint8_t> batch;  // one record batch v2 (base offset 0), when NONE
};

// The magic of the first message or batch in `bytes` (its byte 16 in every
// format), or -1 when `bytes` is too short to tell.
int legacy_magic(std::span<const uint8_t> bytes);

// Converts a message set of magic 0 or 1 messages.
LegacyConversion upconvert_message_set(std::span<const uint8_t> bytes);

}  // namespace runnel::protocol
