#include "storage/producer_state.h"

#include <cstring>
#include <limits>

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::storage {

namespace {

constexpr uint8_t kMagic[4] = {'R', 'N', 'P', 'S'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderSize = 10;  // magic, version, count
constexpr size_t kEntrySize = 19;   // producer id, epoch, last timestamp, batch count
constexpr size_t kBatchSize = 24;   // first seq, last seq, first offset, last offset
constexpr size_t kCrcSize = 4;

bool in_sequence(int32_t last, int32_t next) {
  return static_cast<int64_t>(next) == static_cast<int64_t>(last) + 1 ||
         (next == 0 && last == std::numeric_limits<int32_t>::max());
}

}  // namespace

int32_t last_sequence(int32_t base, int32_t last_offset_delta) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  if (base < 0 || last_offset_delta < 0) return base;
  if (base > kMax - last_offset_delta) return base - (kMax - last_offset_delta) - 1;
  return base + last_offset_delta;
}

const ProducerEntry* ProducerStateTable::find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

ProducerStateTable::Check ProducerStateTable::check(int64_t producer_id, int16_t epoch, int32_t first_seq,
                                                    int32_t last_seq) const {
  Check out;
  const ProducerEntry* entry = find(producer_id);
  if (!entry) return out;  // unknown producer: any sequence (KIP-360)
  // Kafka looks for a duplicate first (UnifiedLog.analyzeAndValidateProducerState).
  if (entry->epoch == epoch) {
    for (const auto& b : entry->batches) {
      if (b.first_seq == first_seq && b.last_seq == last_seq) {
        out.duplicate = b;
        return out;
      }
    }
  }
  if (epoch < entry->epoch) {
    out.error = ErrorCode::INVALID_PRODUCER_EPOCH;
    out.message = "Epoch of producer " + std::to_string(producer_id) + " is " + std::to_string(epoch) +
                  ", which is smaller than the last seen epoch " + std::to_string(entry->epoch);
    return out;
  }
  if (epoch != entry->epoch) {
    if (first_seq != 0 && entry->epoch != -1) {
      out.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
      out.message = "Invalid sequence number for new epoch of producer " + std::to_string(producer_id) + ": " +
                    std::to_string(epoch) + " (request epoch), " + std::to_string(first_seq) + " (seq. number), " +
                    std::to_string(entry->epoch) + " (current producer epoch)";
    }
    return out;
  }
  int32_t current = entry->batches.empty() ? -1 : entry->batches.back().last_seq;
  if (!entry->batches.empty() && !in_sequence(current, first_seq)) {
    out.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
    out.message = "Out of order sequence number for producer " + std::to_string(producer_id) + ": " +
                  std::to_string(first_seq) + " (incoming seq. number), " + std::to_string(current) +
                  " (current end sequence number)";
  }
  return out;
}

void ProducerStateTable::record(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                int64_t first_offset, int64_t last_offset, int64_t timestamp) {
  ProducerEntry& entry = producers_[producer_id];
  if (entry.epoch != epoch) {
    entry.batches.clear();
    entry.epoch = epoch;
  }
  entry.batches.push_back({first_seq, last_seq, first_offset, last_offset});
  while (entry.batches.size() > kBatchesRetained) entry.batches.pop_front();
  entry.last_timestamp = timestamp;
}

void ProducerStateTable::expire(int64_t before_ms) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (it->second.last_timestamp < before_ms)
      it = producers_.erase(it);
    else
      ++it;
  }
}

std::vector<uint8_t> ProducerStateTable::encode() const {
  size_t size = kHeaderSize + kCrcSize;
  for (const auto& [_, e] : producers_) size += kEntrySize + e.batches.size() * kBatchSize;
  std::vector<uint8_t> out(size);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  store_be16(p + 4, kVersion);
  store_be32(p + 6, static_cast<uint32_t>(producers_.size()));
  p += kHeaderSize;
  for (const auto& [id, e] : producers_) {
    store_be64(p, static_cast<uint64_t>(id));
    store_be16(p + 8, static_cast<uint16_t>(e.epoch));
    store_be64(p + 10, static_cast<uint64_t>(e.last_timestamp));
    p[18] = static_cast<uint8_t>(e.batches.size());
    p += kEntrySize;
    for (const auto& b : e.batches) {
      store_be32(p, static_cast<uint32_t>(b.first_seq));
      store_be32(p + 4, static_cast<uint32_t>(b.last_seq));
      store_be64(p + 8, static_cast<uint64_t>(b.first_offset));
      store_be64(p + 16, static_cast<uint64_t>(b.last_offset));
      p += kBatchSize;
    }
  }
  store_be32(p, crc32c(std::span<const uint8_t>(out.data(), size - kCrcSize)));
  return out;
}

std::optional<ProducerStateTable> ProducerStateTable::decode(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize + kCrcSize) return std::nullopt;
  if (std::memcmp(bytes.data(), kMagic, 4) != 0 || load_be16(bytes.data() + 4) != kVersion) return std::nullopt;
  size_t body = bytes.size() - kCrcSize;
  if (crc32c(bytes.first(body)) != load_be32(bytes.data() + body)) return std::nullopt;
  uint32_t count = load_be32(bytes.data() + 6);
  ProducerStateTable table;
  size_t pos = kHeaderSize;
  int64_t previous_id = -1;
  for (uint32_t i = 0; i < count; ++i) {
    if (body - pos < kEntrySize) return std::nullopt;
    const uint8_t* p = bytes.data() + pos;
    auto id = static_cast<int64_t>(load_be64(p));
    auto epoch = static_cast<int16_t>(load_be16(p + 8));
    auto ts = static_cast<int64_t>(load_be64(p + 10));
    size_t n = p[18];
    pos += kEntrySize;
    if (id <= previous_id || epoch < 0 || n == 0 || n > kBatchesRetained) return std::nullopt;
    if (body - pos < n * kBatchSize) return std::nullopt;
    ProducerEntry entry;
    entry.epoch = epoch;
    entry.last_timestamp = ts;
    for (size_t j = 0; j < n; ++j) {
      const uint8_t* b = bytes.data() + pos;
      ProducerBatch batch{static_cast<int32_t>(load_be32(b)), static_cast<int32_t>(load_be32(b + 4)),
                          static_cast<int64_t>(load_be64(b + 8)), static_cast<int64_t>(load_be64(b + 16))};
      pos += kBatchSize;
      if (batch.first_offset < 0 || batch.last_offset < batch.first_offset) return std::nullopt;
      if (!entry.batches.empty() && batch.first_offset <= entry.batches.back().last_offset) return std::nullopt;
      entry.batches.push_back(batch);
    }
    table.producers_.emplace(id, std::move(entry));
    previous_id = id;
  }
  if (pos != body) return std::nullopt;
  return table;
}

}  // namespace runnel::storage
