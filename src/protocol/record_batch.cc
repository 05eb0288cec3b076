#include "protocol/record_batch.h"

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::protocol {
using namespace batch_layout;

int64_t BatchView::base_offset() const { return static_cast<int64_t>(load_be64(b_.data())); }
int32_t BatchView::batch_length() const { return static_cast<int32_t>(load_be32(b_.data() + kLengthOffset)); }
int32_t BatchView::partition_leader_epoch() const {
  return static_cast<int32_t>(load_be32(b_.data() + kLeaderEpochOffset));
}
int8_t BatchView::magic() const { return static_cast<int8_t>(b_[kMagicOffset]); }
uint32_t BatchView::crc() const { return load_be32(b_.data() + kCrcOffset); }
int16_t BatchView::attributes() const { return static_cast<int16_t>(load_be16(b_.data() + kAttributesOffset)); }
int32_t BatchView::last_offset_delta() const {
  return static_cast<int32_t>(load_be32(b_.data() + kLastOffsetDeltaOffset));
}
int64_t BatchView::base_timestamp() const { return static_cast<int64_t>(load_be64(b_.data() + kBaseTimestampOffset)); }
int64_t BatchView::max_timestamp() const { return static_cast<int64_t>(load_be64(b_.data() + kMaxTimestampOffset)); }
int64_t BatchView::producer_id() const { return static_cast<int64_t>(load_be64(b_.data() + kProducerIdOffset)); }
int16_t BatchView::producer_epoch() const { return static_cast<int16_t>(load_be16(b_.data() + kProducerEpochOffset)); }
int32_t BatchView::base_sequence() const { return static_cast<int32_t>(load_be32(b_.data() + kBaseSequenceOffset)); }
int32_t BatchView::record_count() const { return static_cast<int32_t>(load_be32(b_.data() + kRecordCountOffset)); }
uint32_t BatchView::compute_crc() const { return crc32c(b_.subspan(kAttributesOffset)); }

ErrorCode split_batches(std::span<const uint8_t> bytes, std::vector<BatchExtent>& out, size_t max_batch_bytes) {
  out.clear();
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t left = bytes.size() - pos;
    if (left < kBatchLogOverhead) return ErrorCode::CORRUPT_MESSAGE;
    int32_t length = static_cast<int32_t>(load_be32(bytes.data() + pos + kLengthOffset));
    // A length below the rest of the header cannot describe a v2 batch (Kafka:
    // "Record size is less than the minimum record overhead").
    if (length < static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead)) return ErrorCode::CORRUPT_MESSAGE;
    size_t size = static_cast<size_t>(length) + kBatchLogOverhead;
    if (size > left) return ErrorCode::CORRUPT_MESSAGE;
    if (size > max_batch_bytes) return ErrorCode::MESSAGE_TOO_LARGE;
    out.push_back({pos, size});
    pos += size;
  }
  return ErrorCode::NONE;
}

ErrorCode validate_batch(std::span<const uint8_t> batch, BatchOrigin origin) {
  const char* reason = nullptr;
  return validate_batch(batch, origin, reason);
}

ErrorCode validate_batch(std::span<const uint8_t> batch, BatchOrigin origin, const char*& reason) {
  auto fail = [&reason](ErrorCode code, const char* why) {
    reason = why;
    return code;
  };
  if (batch.size() < kBatchHeaderSize)
    return fail(ErrorCode::CORRUPT_MESSAGE, "Record batch is shorter than its header");
  BatchView v(batch);
  if (v.batch_length() < 0 || v.size() != batch.size())
    return fail(ErrorCode::CORRUPT_MESSAGE, "Record batch length does not match its size");
  // Produce v3+ must carry magic 2 (ProduceRequest.validateRecords: InvalidRecordException).
  if (v.magic() != kBatchMagicV2)
    return fail(ErrorCode::INVALID_RECORD, "Produce requests are only allowed to contain record batches with magic 2");
  if (v.crc() != v.compute_crc()) return fail(ErrorCode::CORRUPT_MESSAGE, "Record batch is corrupt (CRC mismatch)");
  if (v.compression_id() > static_cast<int>(CompressionType::Zstd))
    return fail(ErrorCode::CORRUPT_MESSAGE, "Record batch has an unknown compression type");
  // An offset range that does not advance would make "the batch containing
  // offset N" ambiguous for every reader of the log.
  if (v.last_offset_delta() < 0) return fail(ErrorCode::INVALID_RECORD, "Batch has an invalid offset range");
  if (v.record_count() < 0) return fail(ErrorCode::INVALID_RECORD, "Invalid reported count for record batch");
  if (origin == BatchOrigin::Client) {
    // LogValidator.validateBatch for AppendOrigin.CLIENT.
    if (v.record_count() == 0) return fail(ErrorCode::INVALID_RECORD, "Invalid reported count for record batch: 0");
    if (v.last_offset_delta() != v.record_count() - 1)
      return fail(ErrorCode::INVALID_RECORD, "Inconsistent batch offset range and count of records");
    if (v.is_control()) return fail(ErrorCode::INVALID_RECORD, "Clients are not allowed to write control records");
    if (v.producer_id() >= 0 && v.base_sequence() < 0)
      return fail(ErrorCode::INVALID_RECORD, "Invalid sequence number in record batch with a producer id");
  } else if (v.record_count() > 0 && v.last_offset_delta() < v.record_count() - 1) {
    // Compaction may leave fewer records than offsets, never more.
    return fail(ErrorCode::CORRUPT_MESSAGE, "Record batch holds more records than offsets");
  }
  return ErrorCode::NONE;
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
  store_be64(batch.data(), static_cast<uint64_t>(base_offset));
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
  store_be32(batch.data() + kLeaderEpochOffset, static_cast<uint32_t>(epoch));
}

void set_log_append_time(std::span<uint8_t> batch, int64_t now_ms) {
  BatchView v(batch);
  if (v.log_append_time() && v.max_timestamp() == now_ms) return;  // CRC already right
  store_be16(batch.data() + kAttributesOffset, static_cast<uint16_t>(v.attributes() | kTimestampTypeBit));
  store_be64(batch.data() + kMaxTimestampOffset, static_cast<uint64_t>(now_ms));
  store_be32(batch.data() + kCrcOffset, v.compute_crc());
}

bool set_max_timestamp(std::span<uint8_t> batch, int64_t max_timestamp) {
  BatchView v(batch);
  if (v.max_timestamp() == max_timestamp) return false;  // CRC already right
  store_be64(batch.data() + kMaxTimestampOffset, static_cast<uint64_t>(max_timestamp));
  store_be32(batch.data() + kCrcOffset, v.compute_crc());
  return true;
}

}  // namespace runnel::protocol
