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
//    INT32_MAX to 0 (OUT_OF_ORDER_SEQUENCE_NUMBER otherwise), or at 0 when
//    the epoch has no batch yet (a transaction marker moved it there);
//  - an unknown producer (never seen, or expired) may start at any sequence
//    (KIP-360: the broker no longer answers UNKNOWN_PRODUCER_ID).
// Replicated and recovered batches are not checked, only recorded.
//
// Transactions (KIP-98, Kafka's ProducerAppendInfo): a transactional batch
// opens the producer's transaction if none is open (its first offset is
// remembered); a non-transactional batch while one is open is refused with
// INVALID_TXN_STATE. A transaction marker (a control batch the broker writes
// for the coordinator) is checked by check_marker(): an epoch below the
// producer's is INVALID_PRODUCER_EPOCH, a coordinator epoch below the last
// one seen TRANSACTION_COORDINATOR_FENCED; complete() then closes the open
// transaction (if any), takes the marker's epoch and coordinator epoch.
// ongoing() lists the open transactions by first offset (for the last stable
// offset).
//
// Snapshots (`<20-digit offset>.snapshot`, storage/FORMAT.md): the whole table
// as it stands when the log end is that offset.
//
// Thread-safety: none; owned by one PartitionLog, on its shard.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
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
  // The coordinator epoch of the last transaction marker (-1: none seen).
  int32_t coordinator_epoch = -1;
  // The first offset of the open transaction (Kafka's currentTxnFirstOffset),
  // -1 when none is open.
  int64_t current_txn_first_offset = -1;
  // Oldest first, at most kBatchesRetained; empty for a producer known only
  // from a transaction marker.
  std::deque<ProducerBatch> batches;
  bool operator==(const ProducerEntry&) const = default;
};

// A transaction a marker closed (Kafka's CompletedTxn): its first offset
// and the marker's offset.
struct CompletedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  bool aborted = false;
  bool operator==(const CompletedTxn&) const = default;
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
  Check check(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
              bool transactional = false) const;
  // Records a batch written to the log (checked, replicated or recovered);
  // a transactional one opens the producer's transaction if none is open.
  void record(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq, int64_t first_offset,
              int64_t last_offset, int64_t timestamp, bool transactional = false);
  // Checks a transaction marker for `producer_id` (see the rules above).
  Check check_marker(int64_t producer_id, int16_t epoch, int32_t coordinator_epoch) const;
  // Records a marker written at `offset` (checked, replicated or recovered):
  // the producer's open transaction, if any, is closed and returned.
  std::optional<CompletedTxn> complete(int64_t producer_id, int16_t epoch, int32_t coordinator_epoch, bool commit,
                                       int64_t offset, int64_t timestamp);
  // Drops producers whose last batch is older than `before_ms`
  // (producer.id.expiration.ms), except those with a transaction open.
  void expire(int64_t before_ms);
  void clear() {
    producers_.clear();
    ongoing_.clear();
  }
  void put(int64_t producer_id, const ProducerEntry& entry);

  // The open transactions, as (first offset, producer id), ascending.
  const std::set<std::pair<int64_t, int64_t>>& ongoing() const { return ongoing_; }
  // The first offset of the earliest open transaction, or -1.
  int64_t first_ongoing_offset() const { return ongoing_.empty() ? -1 : ongoing_.begin()->first; }

  const ProducerEntry* find(int64_t producer_id) const;
  const std::map<int64_t, ProducerEntry>& producers() const { return producers_; }
  bool operator==(const ProducerStateTable& other) const { return producers_ == other.producers_; }

  // Snapshot version 2 (storage/FORMAT.md); decode() also reads version 1
  // (from before transactions: no coordinator epoch, nothing open).
  static constexpr uint16_t kSnapshotVersion = 2;
  std::vector<uint8_t> encode() const;
  // nullopt for anything not written by encode() (bad magic, version, CRC,
  // length, or entries out of order).
  static std::optional<ProducerStateTable> decode(std::span<const uint8_t> bytes);

 private:
  void set_txn_first_offset(int64_t producer_id, ProducerEntry& entry, int64_t first_offset);
  // The idempotence rules alone (duplicates, epoch, sequence).
  Check check_sequence(int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq) const;

  std::map<int64_t, ProducerEntry> producers_;
  std::set<std::pair<int64_t, int64_t>> ongoing_;  // derived from producers_
};

}  // namespace runnel::storage
