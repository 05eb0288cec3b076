#include "protocol/control_record.h"

#include "base/crc32c.h"
#include "base/endian.h"
#include "protocol/reader.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

namespace runnel::protocol {
namespace {
constexpr int16_t kTransactionalBit = 0x10;
constexpr int16_t kControlBit = 0x20;
constexpr size_t kAttributesPosition = 21;
constexpr size_t kProducerIdPosition = 43;
constexpr size_t kCrcPosition = 17;
}  // namespace

std::vector<uint8_t> build_txn_marker_batch(int64_t producer_id, int16_t producer_epoch, const TxnMarker& marker,
                                            int64_t timestamp) {
  Record record;
  record.key = std::vector<uint8_t>(4);
  store_be16(record.key->data(), 0);
  store_be16(record.key->data() + 2, static_cast<uint16_t>(marker.commit ? kControlTypeCommit : kControlTypeAbort));
  record.value = std::vector<uint8_t>(6);
  store_be16(record.value->data(), 0);
  store_be32(record.value->data() + 2, static_cast<uint32_t>(marker.coordinator_epoch));
  auto batch = build_record_batch({record}, timestamp);
  store_be16(batch.data() + kAttributesPosition, static_cast<uint16_t>(kTransactionalBit | kControlBit));
  store_be64(batch.data() + kProducerIdPosition, static_cast<uint64_t>(producer_id));
  store_be16(batch.data() + kProducerIdPosition + 8, static_cast<uint16_t>(producer_epoch));
  store_be32(batch.data() + kProducerIdPosition + 10, static_cast<uint32_t>(-1));  // base sequence
  store_be32(batch.data() + kCrcPosition, crc32c(std::span<const uint8_t>(batch).subspan(kAttributesPosition)));
  return batch;
}

std::optional<TxnMarker> parse_txn_marker(std::span<const uint8_t> batch) {
  if (batch.size() < kBatchHeaderSize || !BatchView(batch).is_control()) return std::nullopt;
  std::vector<Record> records;
  try {
    records = decode_record_batch(batch);
  } catch (const DecodeError&) {
    return std::nullopt;
  }
  if (records.empty() || !records.front().key || records.front().key->size() < 4) return std::nullopt;
  const auto& key = *records.front().key;
  auto type = static_cast<int16_t>(load_be16(key.data() + 2));
  if (type != kControlTypeAbort && type != kControlTypeCommit) return std::nullopt;
  TxnMarker marker;
  marker.commit = type == kControlTypeCommit;
  // EndTransactionMarker: version i16, coordinator epoch i32.
  const auto& value = records.front().value;
  if (!value || value->size() < 6) return std::nullopt;
  marker.coordinator_epoch = static_cast<int32_t>(load_be32(value->data() + 2));
  return marker;
}

}  // namespace runnel::protocol
