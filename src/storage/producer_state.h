#pragma once
// Idempotent producers' state in one partition (Kafka's ProducerStateManager,
// KIP-98 / KIP-360): per producer id its epoch and its last five batches
// (sequence range and offsets), so that a retried batch is recognised and
// answered with its original offsets, and a gap or a stale epoch refused.
//
// The rules, as Kafka's ProducerAppendInfo applies them to a client's batch:
//  - a batch equal in epoch and sequence range to one of the last five is a
//    duplicate: nothing is appended, its original offsets are the answer;
//  - an epoch below the producer's: INVALID_PRODUCER_EPOCH;
//  - a new epoch must start at sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER
//    otherwise), unless the producer is unknown here;
//  - the same epoch must continue at last sequence + 1, wrapping from
//    INT32_MAX to 0 (OUT_OF_ORDER_SEQUENCE_NUMBER otherwise);
//  - an unknown producer (never seen, or expired) may start at any sequence
//    (KIP-360: the broker no longer answers UNKNOWN_PRODUCER_ID).
// Replicated and recovered batches are not checked, only recorded.
//
// Snapshots (`<20-digit offset>.snapshot`, storage/FORMAT.md): the whole table
// as it stands when the log end is that offset.
//
// Thread-safety: none; owned by one PartitionLog, on its shard.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error_code.h"

namespace runnel::storage {

struct ProducerBatch {
  int32_t first_seq = 0;
  int32_t last_seq = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  bool operator==(const ProducerBatch&) const = default;
};

struct ProducerEntry {
  int16_t epoch = -1;
  int64_t last_timestamp = -1;
  std::deque<ProducerBatch> batches;  // oldest first, at most kBatchesRetained
  bool operator==(const ProducerEntry&) const = default;
};

// The sequence of the last record of a batch of `count_minus_one` + 1 records
// starting at `base`, wrapping at INT32_MAX (Kafka's incrementSequence).
int32_t last_sequence(int32_t base, int32_t last_offset_delta);

class ProducerStateTable {
 public:
  static constexpr size_t kBatchesRetained = 5;

  struct Check {
    ErrorCode error = ErrorCode::NONE;
    // A duplicate of a batch already in the log: its offsets.
    std::optional<ProducerBatch> duplicate;
    std::string message;
  };
  // Checks a client's batch (see the rules above) without changing anything.
  Check check(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq) const;
  // Records a batch written to the log (checked, replicated or recovered).
  void record(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq, int64_t first_offset,
              int64_t last_offset, int64_t timestamp);
  // Drops producers whose last batch is older than `before_ms`
  // (producer.id.expiration.ms).
  void expire(int64_t before_ms);
  void clear() { producers_.clear(); }
  void put(int64_t producer_id, const ProducerEntry& entry) { producers_[producer_id] = entry; }

  const ProducerEntry* find(int64_t producer_id) const;
  const std::map<int64_t, ProducerEntry>& producers() const { return producers_; }
  bool operator==(const ProducerStateTable&) const = default;

  std::vector<uint8_t> encode() const;
  // nullopt for anything not written by encode() (bad magic, version, CRC,
  // length, or entries out of order).
  static std::optional<ProducerStateTable> decode(std::span<const uint8_t> bytes);

 private:
  std::map<int64_t, ProducerEntry> producers_;
};

}  // namespace runnel::storage
