#pragma once
// A view over one Kafka record batch v2 as it travels on the wire and sits in a
// segment file, plus the header checks the broker runs before storing it and
// the few header fields it patches in place. Records are not decoded here:
// batch_validator.h reads them for produce input.
//
// Byte layout (big-endian), offsets from the start of the batch:
//   0 baseOffset i64 | 8 batchLength i32 (bytes after this field)
//   12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32 (CRC-32C of 21..end)
//   21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64
//   35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16
//   53 baseSequence i32 | 57 recordCount i32 | 61 records...
//
// Thread-safety: pure functions and a non-owning view; a view must not outlive
// the bytes it looks at, and patching must not race with readers of the bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/error_code.h"

namespace runnel::protocol {

inline constexpr size_t kBatchLogOverhead = 12;  // baseOffset + batchLength
inline constexpr size_t kBatchHeaderSize = 61;   // up to and including recordCount
inline constexpr int8_t kBatchMagicV2 = 2;

// Byte positions of the v2 batch header's fields (Kafka's DefaultRecordBatch).
namespace batch_layout {
inline constexpr size_t kLengthOffset = 8;
inline constexpr size_t kLeaderEpochOffset = 12;
inline constexpr size_t kMagicOffset = 16;
inline constexpr size_t kCrcOffset = 17;
inline constexpr size_t kAttributesOffset = 21;
inline constexpr size_t kLastOffsetDeltaOffset = 23;
inline constexpr size_t kBaseTimestampOffset = 27;
inline constexpr size_t kMaxTimestampOffset = 35;
inline constexpr size_t kProducerIdOffset = 43;
inline constexpr size_t kProducerEpochOffset = 51;
inline constexpr size_t kBaseSequenceOffset = 53;
inline constexpr size_t kRecordCountOffset = 57;
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampTypeBit = 0x08;  // set: LogAppendTime
}  // namespace batch_layout

enum class CompressionType : int8_t { None = 0, Gzip = 1, Snappy = 2, Lz4 = 3, Zstd = 4 };

// Where a batch comes from decides how strict validation is: a client may not
// send empty batches or control batches (Kafka's LogValidator, AppendOrigin.CLIENT);
// bytes replicated or re-read from our own log only need to be intact.
enum class BatchOrigin { Client, Replication };

// Read-only accessors over the header of one batch. The view must hold at
// least kBatchHeaderSize bytes (records may be absent: a header read from disk).
class BatchView {
 public:
  explicit BatchView(std::span<const uint8_t> bytes) : b_(bytes) {}

  std::span<const uint8_t> bytes() const { return b_; }
  int64_t base_offset() const;
  int32_t batch_length() const;
  uint32_t size() const { return static_cast<uint32_t>(batch_length()) + kBatchLogOverhead; }
  int32_t partition_leader_epoch() const;
  int8_t magic() const;
  uint32_t crc() const;
  int16_t attributes() const;
  int32_t last_offset_delta() const;
  int64_t last_offset() const { return base_offset() + last_offset_delta(); }
  int64_t next_offset() const { return last_offset() + 1; }
  int64_t base_timestamp() const;
  int64_t max_timestamp() const;
  int64_t producer_id() const;
  int16_t producer_epoch() const;
  int32_t base_sequence() const;
  int32_t record_count() const;

  // Attribute bits: 0-2 compression, 3 timestamp type, 4 transactional, 5 control.
  int compression_id() const { return attributes() & 0x07; }
  CompressionType compression() const { return static_cast<CompressionType>(compression_id()); }
  bool log_append_time() const { return attributes() & 0x08; }
  bool is_transactional() const { return attributes() & 0x10; }
  bool is_control() const { return attributes() & 0x20; }

  // CRC-32C over attributes..end, as stored in the crc field.
  uint32_t compute_crc() const;

 private:
  std::span<const uint8_t> b_;
};

// The position and size of one batch inside a larger buffer.
struct BatchExtent {
  size_t position = 0;
  size_t size = 0;
};

// Splits `bytes` into whole batches using each batchLength. Fails with
// CORRUPT_MESSAGE when a length is below the header size or runs past the end
// (a trailing partial batch is an error for produce input), and with
// MESSAGE_TOO_LARGE when a batch exceeds `max_batch_bytes`. Nothing else is
// checked. `out` is cleared first.
ErrorCode split_batches(std::span<const uint8_t> bytes, std::vector<BatchExtent>& out,
                        size_t max_batch_bytes = SIZE_MAX);

// Checks that `batch` (exactly one batch, as split above) is intact: magic 2,
// length consistent with the span, CRC-32C, compression codec 0-4, offsets
// consistent with the record count. Client batches also get LogValidator's
// rules: at least one record, no control batches, a producer id implies a
// base sequence. Errors as Kafka gives them: CORRUPT_MESSAGE for bytes that
// cannot be trusted (length, CRC, codec), INVALID_RECORD for a well-formed
// batch that breaks a rule (magic other than 2, which Produce v3+ forbids;
// counts; control batches).
ErrorCode validate_batch(std::span<const uint8_t> batch, BatchOrigin origin = BatchOrigin::Client);
// The same, naming the broken rule in `reason` (a static string) on failure.
ErrorCode validate_batch(std::span<const uint8_t> batch, BatchOrigin origin, const char*& reason);

// In-place patches. Base offset and leader epoch lie outside the CRC, so the
// checksum stays valid; set_log_append_time rewrites the CRC.
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Marks the batch LogAppendTime (attributes bit 3) and stores `now_ms` as its
// max timestamp, exactly as Kafka's DefaultRecordBatch.setMaxTimestamp does:
// the base timestamp is left alone, since readers of a LogAppendTime batch take
// every record's timestamp from the max timestamp.
void set_log_append_time(std::span<uint8_t> batch, int64_t now_ms);
// Stores `max_timestamp` as the max timestamp of a CreateTime batch, rewriting
// the CRC, when it differs from the header's (Kafka's setMaxTimestamp after
// LogValidator recomputed it from the records). Returns whether it changed.
bool set_max_timestamp(std::span<uint8_t> batch, int64_t max_timestamp);

}  // namespace runnel::protocol
