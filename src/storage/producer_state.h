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
// Transaction verification (KIP-890 part 1, Kafka's VerificationStateEntry):
// before the first batch of a producer's transaction reaches this partition
// (no transaction open here for it), the leader asks the transaction
// coordinator whether the partition was added to that transaction, and
// appends only if it was. start_verification() opens (or reuses) the
// producer's verification entry and returns its guard, a number no other
// entry had; the append must carry that guard (append_allowed()), so that a
// marker written meanwhile (which drops the entry) or a newer entry makes a
// stale verification useless. The entry is dropped when a transactional
// batch or a marker of the producer is recorded, and by expire() once older
// than producer.id.expiration.ms. It also keeps the lowest sequence seen
// while verifying: a higher one is refused (OUT_OF_ORDER_SEQUENCE_NUMBER)
// until the lower one is in, so a retried first batch cannot be overtaken.
// Entries are in memory only: never snapshotted or compared.
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

// A producer's verification in progress (Kafka's VerificationStateEntry).
struct VerificationEntry {
  uint64_t guard = 0;
  int64_t timestamp = -1;  // when it was opened
  int32_t lowest_seq = 0;
  int16_t epoch = -1;
};

// What a client's append carries (Kafka's VerificationGuard): whether
// transactional batches must have been verified (the broker's
// transaction.partition.verification.enable), and the guard the
// verification was made under (kNoGuard: none).
struct TxnVerification {
  static constexpr uint64_t kNoGuard = 0;
  bool required = false;
  uint64_t guard = kNoGuard;
  // The broker's own transactional write (the group coordinator's
  // TxnOffsetCommit batch; Kafka's AppendOrigin.COORDINATOR), which the
  // lowest sequence of a verification does not bar.
  bool coordinator = false;
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
  // (producer.id.expiration.ms), except those with a transaction open, and
  // verification entries opened before `before_ms`.
  void expire(int64_t before_ms);
  void clear() {
    producers_.clear();
    ongoing_.clear();
    verifications_.clear();
  }
  void put(int64_t producer_id, const ProducerEntry& entry);

  // The open transactions, as (first offset, producer id), ascending.
  const std::set<std::pair<int64_t, int64_t>>& ongoing() const { return ongoing_; }
  // The first offset of the earliest open transaction, or -1.
  int64_t first_ongoing_offset() const { return ongoing_.empty() ? -1 : ongoing_.begin()->first; }

  // Whether the producer has a transaction open here (Kafka's hasOngoingTransaction).
  bool has_ongoing_txn(int64_t producer_id) const;

  // Verification (see above). start_verification(): kNoGuard when the
  // producer has a transaction open here (nothing to verify); otherwise the
  // guard of its entry, opened at `now_ms` if there was none, its lowest
  // sequence lowered to `first_seq` (same epoch) or reset with a newer epoch.
  uint64_t start_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms);
  const VerificationEntry* verification(int64_t producer_id) const;
  // Whether a client's transactional batch of the producer may be appended
  // under `verification`: a transaction of it is open here, or verification
  // is not required, or the producer's entry has the guard the batch was
  // verified under.
  bool append_allowed(int64_t producer_id, const TxnVerification& verification) const;
  const std::map<int64_t, VerificationEntry>& verifications() const { return verifications_; }

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
  std::map<int64_t, VerificationEntry> verifications_;
};

}  // namespace runnel::storage
