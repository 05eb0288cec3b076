#pragma once
// Transaction markers (KIP-98): the control batches the broker writes when a
// transaction ends (Kafka's EndTransactionMarker and ControlRecordType). A
// marker is a batch with the control and transactional attribute bits set,
// the producer's id and epoch, base sequence -1, and one record:
//   key   = version i16 (0) | type i16 (0 ABORT, 1 COMMIT)
//   value = version i16 (0) | coordinator_epoch i32
// Consumers never see control records: clients skip them (and read_committed
// consumers use them to drop aborted data).
//
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace runnel::protocol {

// ControlRecordType.ABORT / COMMIT.
inline constexpr int16_t kControlTypeAbort = 0;
inline constexpr int16_t kControlTypeCommit = 1;

struct TxnMarker {
  bool commit = false;
  int32_t coordinator_epoch = -1;
  bool operator==(const TxnMarker&) const = default;
};

// One uncompressed marker batch (base offset 0: the log assigns it), with a
// valid CRC-32C.
std::vector<uint8_t> build_txn_marker_batch(int64_t producer_id, int16_t producer_epoch, const TxnMarker& marker,
                                            int64_t timestamp);

// The marker a control batch (the whole batch, header included) carries;
// nullopt for a batch that is not a control batch, or whose first record is
// not an ABORT or COMMIT marker Kafka's EndTransactionMarker would read
// (unknown control types such as LEADER_CHANGE, a short key or value).
std::optional<TxnMarker> parse_txn_marker(std::span<const uint8_t> batch);

}  // namespace runnel::protocol
