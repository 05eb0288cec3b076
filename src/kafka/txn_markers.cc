// Broker::write_txn_markers: transaction markers (KIP-98) written to the
// partitions this broker leads, for the transaction coordinator (directly,
// or through WriteTxnMarkers from another broker's coordinator).
#include "kafka/txn_markers.h"

#include "group/coordinator.h"
#include "kafka/broker.h"
#include "protocol/control_record.h"

namespace runnel {

asio::awaitable<std::vector<ErrorCode>> Broker::write_txn_markers(int64_t producer_id, int16_t producer_epoch,
                                                                  bool commit, int32_t coordinator_epoch,
                                                                  const std::vector<TxnMarkerPartition>& partitions) {
  std::vector<ErrorCode> errors(partitions.size(), ErrorCode::NONE);
  std::vector<int64_t> offsets(partitions.size(), -1);
  const protocol::TxnMarker marker{commit, coordinator_epoch};
  // Every marker is appended first, so that one sync per partition (group
  // commit) acknowledges them all.
  for (size_t i = 0; i < partitions.size(); ++i) {
    const TxnMarkerPartition& tp = partitions[i];
    auto info = topics_.find(tp.topic);
    if (!info || tp.partition < 0 || tp.partition >= info->partitions) {
      errors[i] = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      continue;
    }
    auto result = co_await on_shard(owner(tp.topic, tp.partition), [this, &tp, &marker, producer_id, producer_epoch]() {
      auto* p = partition(tp.topic, tp.partition);
      if (!p) {
        storage::AppendResult r;
        r.error = missing_partition_error(tp.topic, tp.partition);
        return r;
      }
      return p->append_txn_marker(producer_id, producer_epoch, marker, now_ms());
    });
    errors[i] = result.error;
    offsets[i] = result.last_offset;
  }
  const auto started = std::chrono::steady_clock::now();
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (errors[i] != ErrorCode::NONE) continue;
    const TxnMarkerPartition& tp = partitions[i];
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const int64_t timeout_ms = std::max<int64_t>(0, kTxnMarkerTimeoutMs - waited.count());
    const Offset offset(offsets[i]);
    errors[i] = co_await on_shard(owner(tp.topic, tp.partition),
                                  [this, &tp, offset, timeout_ms]() -> asio::awaitable<ErrorCode> {
                                    auto* p = partition(tp.topic, tp.partition);
                                    if (!p) co_return ErrorCode::NOT_LEADER_OR_FOLLOWER;
                                    co_return co_await p->wait_acknowledged(offset, timeout_ms);
                                  });
    if (errors[i] == ErrorCode::NONE && tp.topic == group::kOffsetsTopic) {
      // txcoord: the marker on this __consumer_offsets partition is acknowledged: tell the
      // group coordinator of partition tp.partition to make producer_id's pending
      // transactional offset commits visible (commit) or drop them (abort).
    }
  }
  co_return errors;
}

}  // namespace runnel
