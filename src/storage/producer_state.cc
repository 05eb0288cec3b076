#include "storage/producer_state.h"

#include <atomic>
#include <cstring>
#include <limits>

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::storage {

namespace {

constexpr uint8_t kMagic[4] = {'R', 'N', 'P', 'S'};
constexpr uint16_t kVersion1 = 1;
constexpr size_t kHeaderSize = 10;   // magic, version, count
constexpr size_t kEntrySizeV1 = 19;  // producer id, epoch, last timestamp, batch count
// v2: producer id, epoch, last timestamp, coordinator epoch, current txn first offset, batch count
constexpr size_t kEntrySizeV2 = 31;
constexpr size_t kBatchSize = 24;  // first seq, last seq, first offset, last offset
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

bool ProducerStateTable::has_ongoing_txn(int64_t producer_id) const {
  const ProducerEntry* entry = find(producer_id);
  return entry && entry->current_txn_first_offset >= 0;
}

uint64_t ProducerStateTable::start_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms) {
  if (has_ongoing_txn(producer_id)) return TxnVerification::kNoGuard;
  // Unique in the process, so that no entry ever gets a guard another had
  // (a table cleared and refilled included).
  static std::atomic<uint64_t> next_guard{1};
  auto [it, created] = verifications_.try_emplace(producer_id);
  VerificationEntry& entry = it->second;
  if (created) {
    entry.guard = next_guard.fetch_add(1, std::memory_order_relaxed);
    entry.timestamp = now_ms;
    entry.lowest_seq = first_seq;
    entry.epoch = epoch;
    return entry.guard;
  }
  // VerificationStateEntry.maybeUpdateLowestSequenceAndEpoch.
  if (epoch == entry.epoch && first_seq < entry.lowest_seq) entry.lowest_seq = first_seq;
  if (epoch > entry.epoch) {
    entry.epoch = epoch;
    entry.lowest_seq = first_seq;
  }
  return entry.guard;
}

const VerificationEntry* ProducerStateTable::verification(int64_t producer_id) const {
  auto it = verifications_.find(producer_id);
  return it == verifications_.end() ? nullptr : &it->second;
}

bool ProducerStateTable::append_allowed(int64_t producer_id, const TxnVerification& verification) const {
  if (!verification.required || has_ongoing_txn(producer_id)) return true;
  const VerificationEntry* entry = this->verification(producer_id);
  return entry && verification.guard != TxnVerification::kNoGuard && entry->guard == verification.guard;
}

const ProducerEntry* ProducerStateTable::find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

void ProducerStateTable::put(int64_t producer_id, const ProducerEntry& entry) {
  auto it = producers_.find(producer_id);
  if (it != producers_.end() && it->second.current_txn_first_offset >= 0)
    ongoing_.erase({it->second.current_txn_first_offset, producer_id});
  producers_[producer_id] = entry;
  if (entry.current_txn_first_offset >= 0) ongoing_.insert({entry.current_txn_first_offset, producer_id});
}

void ProducerStateTable::set_txn_first_offset(int64_t producer_id, ProducerEntry& entry, int64_t first_offset) {
  if (entry.current_txn_first_offset >= 0) ongoing_.erase({entry.current_txn_first_offset, producer_id});
  entry.current_txn_first_offset = first_offset;
  if (first_offset >= 0) ongoing_.insert({first_offset, producer_id});
}

ProducerStateTable::Check ProducerStateTable::check(int64_t producer_id, int16_t epoch, int32_t first_seq,
                                                    int32_t last_seq, bool transactional) const {
  Check out = check_sequence(producer_id, epoch, first_seq, last_seq);
  if (out.duplicate || out.error != ErrorCode::NONE) return out;
  // ProducerAppendInfo.appendDataBatch: a plain write inside a transaction.
  const ProducerEntry* entry = find(producer_id);
  if (!transactional && entry && entry->current_txn_first_offset >= 0) {
    out.error = ErrorCode::INVALID_TXN_STATE;
    out.message = "Expected transactional write from producer " + std::to_string(producer_id) +
                  ", whose transaction is open since offset " + std::to_string(entry->current_txn_first_offset);
  }
  return out;
}

ProducerStateTable::Check ProducerStateTable::check_sequence(int64_t producer_id, int16_t epoch, int32_t first_seq,
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
  // No batch in this epoch (a marker moved the producer to it): Kafka's
  // NO_SEQUENCE, after which only sequence 0 is in order.
  int32_t current = entry->batches.empty() ? -1 : entry->batches.back().last_seq;
  if (!in_sequence(current, first_seq)) {
    out.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
    out.message = "Out of order sequence number for producer " + std::to_string(producer_id) + ": " +
                  std::to_string(first_seq) + " (incoming seq. number), " + std::to_string(current) +
                  " (current end sequence number)";
  }
  return out;
}

void ProducerStateTable::record(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                                int64_t first_offset, int64_t last_offset, int64_t timestamp, bool transactional) {
  ProducerEntry& entry = producers_[producer_id];
  if (entry.epoch != epoch) {
    entry.batches.clear();
    entry.epoch = epoch;
  }
  entry.batches.push_back({first_seq, last_seq, first_offset, last_offset});
  while (entry.batches.size() > kBatchesRetained) entry.batches.pop_front();
  entry.last_timestamp = timestamp;
  if (transactional && entry.current_txn_first_offset < 0) set_txn_first_offset(producer_id, entry, first_offset);
  // A transactional batch in the log: the transaction is open here, its
  // verification done (UnifiedLog.updateProducers).
  if (transactional) verifications_.erase(producer_id);
}

ProducerStateTable::Check ProducerStateTable::check_marker(int64_t producer_id, int16_t epoch,
                                                           int32_t coordinator_epoch) const {
  Check out;
  const ProducerEntry* entry = find(producer_id);
  if (!entry) return out;
  if (epoch < entry->epoch) {
    out.error = ErrorCode::INVALID_PRODUCER_EPOCH;
    out.message = "Epoch of producer " + std::to_string(producer_id) + " is " + std::to_string(epoch) +
                  ", which is smaller than the last seen epoch " + std::to_string(entry->epoch);
  } else if (coordinator_epoch < entry->coordinator_epoch) {
    out.error = ErrorCode::TRANSACTION_COORDINATOR_FENCED;
    out.message = "Invalid coordinator epoch for producer " + std::to_string(producer_id) + ": " +
                  std::to_string(coordinator_epoch) + " (zombie), " + std::to_string(entry->coordinator_epoch) +
                  " (current)";
  }
  return out;
}

std::optional<CompletedTxn> ProducerStateTable::complete(int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                                                         bool commit, int64_t offset, int64_t timestamp) {
  ProducerEntry& entry = producers_[producer_id];
  // ProducerStateEntry.maybeUpdateProducerEpoch: a new epoch forgets the batches.
  if (entry.epoch != epoch) {
    entry.batches.clear();
    entry.epoch = epoch;
  }
  entry.coordinator_epoch = coordinator_epoch;
  entry.last_timestamp = timestamp;
  // A marker ends whatever was being verified: a verification made before it
  // must not open a transaction after it (the hanging transaction).
  verifications_.erase(producer_id);
  if (entry.current_txn_first_offset < 0) return std::nullopt;
  CompletedTxn txn{producer_id, entry.current_txn_first_offset, offset, !commit};
  set_txn_first_offset(producer_id, entry, -1);
  return txn;
}

void ProducerStateTable::expire(int64_t before_ms) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    // Kafka's isProducerExpired: never while a transaction is open.
    if (it->second.last_timestamp < before_ms && it->second.current_txn_first_offset < 0)
      it = producers_.erase(it);
    else
      ++it;
  }
  std::erase_if(verifications_, [before_ms](const auto& v) { return v.second.timestamp < before_ms; });
}

std::vector<uint8_t> ProducerStateTable::encode() const {
  size_t size = kHeaderSize + kCrcSize;
  for (const auto& [_, e] : producers_) size += kEntrySizeV2 + e.batches.size() * kBatchSize;
  std::vector<uint8_t> out(size);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  store_be16(p + 4, kSnapshotVersion);
  store_be32(p + 6, static_cast<uint32_t>(producers_.size()));
  p += kHeaderSize;
  for (const auto& [id, e] : producers_) {
    store_be64(p, static_cast<uint64_t>(id));
    store_be16(p + 8, static_cast<uint16_t>(e.epoch));
    store_be64(p + 10, static_cast<uint64_t>(e.last_timestamp));
    store_be32(p + 18, static_cast<uint32_t>(e.coordinator_epoch));
    store_be64(p + 22, static_cast<uint64_t>(e.current_txn_first_offset));
    p[30] = static_cast<uint8_t>(e.batches.size());
    p += kEntrySizeV2;
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
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) return std::nullopt;
  const uint16_t version = load_be16(bytes.data() + 4);
  if (version != kVersion1 && version != kSnapshotVersion) return std::nullopt;
  const size_t entry_size = version == kVersion1 ? kEntrySizeV1 : kEntrySizeV2;
  size_t body = bytes.size() - kCrcSize;
  if (crc32c(bytes.first(body)) != load_be32(bytes.data() + body)) return std::nullopt;
  uint32_t count = load_be32(bytes.data() + 6);
  ProducerStateTable table;
  size_t pos = kHeaderSize;
  int64_t previous_id = -1;
  for (uint32_t i = 0; i < count; ++i) {
    if (body - pos < entry_size) return std::nullopt;
    const uint8_t* p = bytes.data() + pos;
    auto id = static_cast<int64_t>(load_be64(p));
    auto epoch = static_cast<int16_t>(load_be16(p + 8));
    auto ts = static_cast<int64_t>(load_be64(p + 10));
    ProducerEntry entry;
    entry.epoch = epoch;
    entry.last_timestamp = ts;
    size_t n = p[18];
    if (version != kVersion1) {
      entry.coordinator_epoch = static_cast<int32_t>(load_be32(p + 18));
      entry.current_txn_first_offset = static_cast<int64_t>(load_be64(p + 22));
      n = p[30];
    }
    pos += entry_size;
    // Version 1 had no entry without batches; version 2 has those a marker made.
    if (id <= previous_id || epoch < 0 || (n == 0 && version == kVersion1) || n > kBatchesRetained) return std::nullopt;
    if (entry.coordinator_epoch < -1 || entry.current_txn_first_offset < -1) return std::nullopt;
    if (body - pos < n * kBatchSize) return std::nullopt;
    for (size_t j = 0; j < n; ++j) {
      const uint8_t* b = bytes.data() + pos;
      ProducerBatch batch{static_cast<int32_t>(load_be32(b)), static_cast<int32_t>(load_be32(b + 4)),
                          static_cast<int64_t>(load_be64(b + 8)), static_cast<int64_t>(load_be64(b + 16))};
      pos += kBatchSize;
      if (batch.first_offset < 0 || batch.last_offset < batch.first_offset) return std::nullopt;
      if (!entry.batches.empty() && batch.first_offset <= entry.batches.back().last_offset) return std::nullopt;
      entry.batches.push_back(batch);
    }
    table.put(id, entry);
    previous_id = id;
  }
  if (pos != body) return std::nullopt;
  return table;
}

}  // namespace runnel::storage
