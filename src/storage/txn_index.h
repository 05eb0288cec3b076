#pragma once
// The aborted-transaction index of one segment, `<base>.txnindex` (Kafka's
// TransactionIndex, its layout byte for byte): one entry per transaction an
// ABORT marker in that segment closed, in marker order. read_committed
// Fetch answers its aborted_transactions from it (Kafka's
// collectAbortedTransactions).
//
// Entry, 34 bytes, big-endian, no header:
//   version i16 (0) | producerId i64 | firstOffset i64 | lastOffset i64 |
//   lastStableOffset i64
// firstOffset: the transaction's first record; lastOffset: its ABORT marker;
// lastStableOffset: the partition's last stable offset once the marker was
// written.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace runnel::storage {

struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t last_stable_offset = -1;
  bool operator==(const AbortedTxn&) const = default;
};

inline constexpr size_t kAbortedTxnSize = 34;
inline constexpr const char* kTxnIndexSuffix = ".txnindex";

std::vector<uint8_t> encode_aborted_txns(std::span<const AbortedTxn> entries);

// The entries of a .txnindex file, up to the first one that cannot be
// Kafka's (a version other than 0, a negative producer id or offset, a last
// offset below the first, or a torn entry at the end: a crash mid-append).
// `clean` (if given) says whether every byte was read as whole entries.
std::vector<AbortedTxn> decode_aborted_txns(std::span<const uint8_t> bytes, bool* clean = nullptr);

}  // namespace runnel::storage
