#include "protocol/batch_validator.h"

#include <algorithm>

#include "base/wrapping.h"
#include "protocol/compression.h"
#include "protocol/reader.h"
#include "protocol/record_batch.h"

namespace runnel::protocol {
namespace {

constexpr int64_t kNoTimestamp = -1;
// A scratch buffer grown past this by one large compressed batch is released
// afterwards, so that one burst does not pin memory for the partition's lifetime.
constexpr size_t kScratchKeepBytes = size_t{8} << 20;

// A bounds-checked, non-throwing reader of the varints inside records: the
// produce hot path reads six or more of them per record.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;

  size_t left() const { return static_cast<size_t>(end - p); }

  bool skip(size_t n) {
    if (n > left()) return false;
    p += n;
    return true;
  }

  // Zig-zag varint of at most 5 bytes (Kafka's ByteUtils.readVarint).
  bool varint(int32_t& out) {
    uint32_t raw = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (p == end) return false;
      uint8_t b = *p++;
      raw |= uint32_t(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        out = static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
        return true;
      }
    }
    return false;  // a sixth byte: "Varint is too long"
  }

  // Zig-zag varlong of at most 10 bytes.
  bool varlong(int64_t& out) {
    uint64_t raw = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p == end) return false;
      uint8_t b = *p++;
      raw |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        out = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
        return true;
      }
    }
    return false;
  }

  // A varint length followed by that many bytes; a negative length is null.
  bool nullable_bytes(int32_t& len) { return varint(len) && (len < 0 || skip(static_cast<size_t>(len))); }
};

BatchValidation failure(ErrorCode code, std::string message) {
  BatchValidation v;
  v.error = code;
  v.message = std::move(message);
  return v;
}

// Why a record does not parse, or nullptr when it does. Mirrors the checks of
// Kafka's DefaultRecord.readFrom; `r` spans exactly the record's body.
const char* parse_record(Cursor r, int64_t& timestamp_delta, int32_t& offset_delta, int32_t& key_length) {
  int32_t value_length = 0;
  int32_t header_count = 0;
  if (!r.skip(1) || !r.varlong(timestamp_delta) || !r.varint(offset_delta) || !r.nullable_bytes(key_length) ||
      !r.nullable_bytes(value_length) || !r.varint(header_count))
    return "Found invalid record structure";
  // Every header takes at least two bytes (two varint lengths).
  if (header_count < 0 || static_cast<size_t>(header_count) > r.left() / 2)
    return "Found invalid number of record headers";
  for (int32_t h = 0; h < header_count; ++h) {
    int32_t key_size = 0;
    int32_t value_size = 0;
    if (!r.varint(key_size)) return "Found invalid record structure";
    if (key_size < 0) return "Invalid negative header key size";
    if (!r.skip(static_cast<size_t>(key_size)) || !r.nullable_bytes(value_size))
      return "Found invalid record structure";
  }
  if (r.p != r.end) return "Invalid record size: the record's fields do not fill its declared length";
  return nullptr;
}

bool timestamp_out_of_range(int64_t ts, const BatchValidationConfig& c) {
  // In 128 bits: a producer may send any 64-bit value.
  __int128 diff = static_cast<__int128>(c.now_ms) - ts;
  return diff > c.timestamp_before_max_ms || -diff > c.timestamp_after_max_ms;
}

int64_t clamp64(__int128 v) {
  return static_cast<int64_t>(
      std::clamp<__int128>(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
}

std::string str(int64_t v) { return std::to_string(v); }

void release_if_large(std::vector<uint8_t>& scratch) {
  if (scratch.capacity() > kScratchKeepBytes) std::vector<uint8_t>().swap(scratch);
}

// The records of `batch`: the bytes after the header, decompressed into
// `scratch` when the batch is compressed. Throws DecodeError.
Cursor records_of(std::span<const uint8_t> batch, std::vector<uint8_t>& scratch, size_t max_inflated) {
  BatchView v(batch);
  auto body = batch.subspan(kBatchHeaderSize);
  if (v.compression() == CompressionType::None) return {body.data(), body.data() + body.size()};
  decompress_into(v.compression_id(), body, scratch, max_inflated);
  return {scratch.data(), scratch.data() + scratch.size()};
}

}  // namespace

BatchValidation validate_produced_batch(std::span<const uint8_t> batch, const BatchValidationConfig& config,
                                        std::vector<uint8_t>& scratch) {
  const char* reason = nullptr;
  if (auto error = validate_batch(batch, BatchOrigin::Client, reason); error != ErrorCode::NONE)
    return failure(error, reason);
  BatchView v(batch);
  Cursor records{nullptr, nullptr};
  try {
    records = records_of(batch, scratch, config.max_inflated_bytes);
  } catch (const DecodeError& e) {
    release_if_large(scratch);
    return failure(ErrorCode::CORRUPT_MESSAGE, std::string("Record batch cannot be decompressed: ") + e.what());
  }

  BatchValidation result;
  const int32_t count = v.record_count();
  const int64_t base_timestamp = v.base_timestamp();
  // Kafka's validateTimestamp: a producer may not claim LogAppendTime, whatever
  // the topic's type (Kafka accepts it on a CreateTime topic when the header
  // carries a timestamp, and then rewrites the type, which silently changes the
  // timestamps the records read back with; we refuse instead).
  const bool producer_set_append_time = v.log_append_time();
  bool bad_timestamp = false;
  for (int32_t i = 0; i < count; ++i) {
    int32_t size = 0;
    if (!records.varint(size) || size < 0 || static_cast<size_t>(size) > records.left()) {
      release_if_large(scratch);
      return failure(ErrorCode::INVALID_RECORD,
                     "Found invalid record structure: record " + str(i) + " of " + str(count) + " has no valid length");
    }
    Cursor body{records.p, records.p + size};
    records.p += size;
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    int32_t key_length = 0;
    if (const char* why = parse_record(body, timestamp_delta, offset_delta, key_length)) {
      release_if_large(scratch);
      return failure(ErrorCode::INVALID_RECORD, std::string(why) + " (record " + str(i) + " of " + str(count) + ")");
    }
    if (offset_delta != i) {
      result.record_errors.push_back({i, "Record has offset delta " + str(offset_delta) + ", expected " + str(i) +
                                             ": inner offsets must run 0..n-1"});
      continue;
    }
    if (config.compacted && key_length < 0) {
      result.record_errors.push_back({i, "Compacted topic cannot accept message without key"});
      continue;
    }
    if (producer_set_append_time) {
      result.record_errors.push_back(
          {i, "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime."});
      bad_timestamp = true;
      continue;
    }
    // Two's-complement addition, as Java's long arithmetic.
    int64_t ts = wrapping_add(base_timestamp, timestamp_delta);
    if (!config.log_append_time && ts != kNoTimestamp && timestamp_out_of_range(ts, config)) {
      result.record_errors.push_back(
          {i, "Timestamp " + str(ts) + " of message with offset delta " + str(i) +
                  " is out of range. The timestamp should be within [" +
                  str(clamp64(static_cast<__int128>(config.now_ms) - config.timestamp_before_max_ms)) + ", " +
                  str(clamp64(static_cast<__int128>(config.now_ms) + config.timestamp_after_max_ms)) + "]"});
      bad_timestamp = true;
      continue;
    }
    if (ts > result.max_timestamp) {
      result.max_timestamp = ts;
      result.offset_delta_of_max_timestamp = i;
    }
  }
  const bool trailing = records.p != records.end;
  release_if_large(scratch);
  if (trailing)
    return failure(ErrorCode::INVALID_RECORD,
                   "Incorrect declared batch size, records still remaining after " + str(count) + " records");

  if (!result.record_errors.empty()) {
    // LogValidator.processRecordErrors.
    result.max_timestamp = -1;
    result.offset_delta_of_max_timestamp = -1;
    if (bad_timestamp) {
      result.error = ErrorCode::INVALID_TIMESTAMP;
      result.message = "One or more records have been rejected due to invalid timestamp";
    } else {
      result.error = ErrorCode::INVALID_RECORD;
      std::string first;
      for (size_t i = 0; i < result.record_errors.size() && i < 3; ++i)
        first += std::string(i ? ", " : "") + "{batchIndex=" + str(result.record_errors[i].batch_index) +
                 ", message='" + result.record_errors[i].message + "'}";
      result.message = "One or more records have been rejected due to " + str(int64_t(result.record_errors.size())) +
                       " record errors in total, and only showing the first three errors at most: [" + first + "]";
    }
  }
  return result;
}

std::optional<int64_t> max_timestamp_from_records(std::span<const uint8_t> batch, std::vector<uint8_t>& scratch) {
  if (batch.size() < kBatchHeaderSize) return std::nullopt;
  BatchView v(batch);
  if (v.log_append_time()) return v.max_timestamp();
  Cursor records{nullptr, nullptr};
  try {
    records = records_of(batch, scratch, size_t{256} << 20);
  } catch (const DecodeError&) {
    release_if_large(scratch);
    return std::nullopt;
  }
  int64_t max = kNoTimestamp;
  bool ok = v.record_count() >= 0;
  for (int32_t i = 0; ok && i < v.record_count(); ++i) {
    int32_t size = 0;
    if (!records.varint(size) || size < 0 || static_cast<size_t>(size) > records.left()) {
      ok = false;
      break;
    }
    Cursor body{records.p, records.p + size};
    records.p += size;
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    int32_t key_length = 0;
    if (parse_record(body, timestamp_delta, offset_delta, key_length)) {
      ok = false;
      break;
    }
    int64_t ts = wrapping_add(v.base_timestamp(), timestamp_delta);
    max = std::max(max, ts);
  }
  release_if_large(scratch);
  if (!ok) return std::nullopt;
  return max;
}

}  // namespace runnel::protocol
