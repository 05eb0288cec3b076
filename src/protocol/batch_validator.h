#pragma once
// Kafka's LogValidator for one record batch v2 that a client produced: the
// header checks of validate_batch(), then every record, read in place (after
// decompressing the body of a compressed batch, which is never recompressed)
// without copying a key, value or header. Records must parse exactly to the end
// of the batch, offset deltas must run 0..n-1, header counts must be sane,
// a compacted topic needs keys, and CreateTime timestamps must lie within
// message.timestamp.before.max.ms / after.max.ms of the broker's clock. The
// result carries the batch's true max timestamp, which the log writes into the
// header in place of whatever the producer claimed (set_max_timestamp).
//
// Errors as Kafka gives them: CORRUPT_MESSAGE for bytes that cannot be trusted
// (length, CRC, codec, a body that does not decompress); INVALID_RECORD for a
// well-formed batch that breaks a rule or whose records do not parse
// (Kafka's InvalidRecordException, since 2.5); INVALID_TIMESTAMP when any record
// has a timestamp out of range or the producer set LogAppendTime.
//
// Thread-safety: a pure function over caller-owned bytes. The scratch buffer
// (decompressed records) belongs to the caller and must not be shared between
// threads; the partition log keeps one, used only on its shard.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error_code.h"

namespace runnel::protocol {

struct BatchValidationConfig {
  int64_t now_ms = 0;
  bool log_append_time = false;  // the topic's message.timestamp.type; CreateTime timestamps are checked
  int64_t timestamp_before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
  bool compacted = false;  // cleanup.policy=compact: every record needs a key
  // A decompressed body larger than this is refused (a decompression bomb).
  size_t max_inflated_bytes = size_t{256} << 20;
};

// One rejected record: Produce v8+ record_errors (batch_index, message).
struct RecordError {
  int32_t batch_index = 0;
  std::string message;
};

struct BatchValidation {
  ErrorCode error = ErrorCode::NONE;
  std::string message;                     // with every error: Produce v8+ error_message
  std::vector<RecordError> record_errors;  // the records that broke a per-record rule
  // The largest record timestamp (CreateTime batches), -1 when no record has
  // one, and the offset delta of the first record that carries it.
  int64_t max_timestamp = -1;
  int32_t offset_delta_of_max_timestamp = -1;
};

// Validates `batch` (exactly one batch, as split_batches cut it) as produce
// input. Allocates nothing on success except, for a compressed batch, growth of
// `scratch`.
BatchValidation validate_produced_batch(std::span<const uint8_t> batch, const BatchValidationConfig& config,
                                        std::vector<uint8_t>& scratch);

// The largest record timestamp of a stored batch, read from its records (for a
// LogAppendTime batch, the header's), -1 when no record has one, or nullopt
// when the records cannot be read. For recovery, which must not trust the
// header of a batch an older broker stored as the producer sent it.
std::optional<int64_t> max_timestamp_from_records(std::span<const uint8_t> batch, std::vector<uint8_t>& scratch);

}  // namespace runnel::protocol
