#pragma once
// The records of the internal __transaction_state topic, in Kafka's own
// layout (TransactionLogKey / TransactionLogValue) so that tools which read
// that topic understand it:
//   key   v0: transactional id
//   value v0: producer id, producer epoch, transaction timeout, status,
//             partitions (topic, partition ids; nullable), last update
//             timestamp, start timestamp
//   value v1 (Kafka 3.9+, flexible, read only): the same, with compact
//             encodings and tagged fields (previous/next producer id, client
//             transaction version), which are skipped
// A null value is a tombstone (the transactional id expired).
// Thread-safety: pure functions.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace runnel::txn {

// Kafka's TransactionState ids, as stored in TransactionStatus.
enum class TxnState : int8_t {
  Empty = 0,
  Ongoing = 1,
  PrepareCommit = 2,
  PrepareAbort = 3,
  CompleteCommit = 4,
  CompleteAbort = 5,
  Dead = 6,
  PrepareEpochFence = 7,
};

// Kafka's names ("Ongoing", "PrepareCommit", ...), as ListTransactions and
// DescribeTransactions report them; nullopt for a name Kafka does not know.
const char* state_name(TxnState s);
std::optional<TxnState> state_from_name(const std::string& name);

struct TxnLogValue {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t transaction_timeout_ms = 0;
  TxnState state = TxnState::Empty;
  // topic -> partitions; stored as null when empty, as Kafka does for the
  // states without partitions.
  std::map<std::string, std::set<int32_t>> partitions;
  int64_t last_update_timestamp_ms = 0;
  int64_t start_timestamp_ms = -1;
};

std::vector<uint8_t> encode_txn_key(const std::string& transactional_id);
std::vector<uint8_t> encode_txn_value(const TxnLogValue& v);

// nullopt for a key version this build does not know (skipped). Throws
// protocol::DecodeError on malformed bytes.
std::optional<std::string> decode_txn_key(std::span<const uint8_t> bytes);
// Throws protocol::DecodeError on malformed bytes or an unknown version or status.
TxnLogValue decode_txn_value(std::span<const uint8_t> bytes);

}  // namespace runnel::txn
