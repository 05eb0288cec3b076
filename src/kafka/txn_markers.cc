// Broker::write_txn_markers: transaction markers (KIP-98) written to the
// partitions this broker leads, for the transaction coordinator (directly,
// or through WriteTxnMarkers from another broker's coordinator).
#include "kafka/txn_markers.h"

#include "group/coordinator.h"
#include "kafka/broker.h"
#include "protocol/control_record.h"
#include "runtime/on_shards.h"

namespace runnel {

asio::awaitable<std::vector<ErrorCode>> Broker::write_txn_markers(int64_t producer_id, int16_t producer_epoch,
                                                                  bool commit, int32_t coordinator_epoch,
                                                                  const std::vector<TxnMarkerPartition>& partitions) {
  std::vector<ErrorCode> errors(partitions.size(), ErrorCode::NONE);
  const protocol::TxnMarker marker{commit, coordinator_epoch};
  // Each partition's marker is appended and acknowledged on its shard, all
  // partitions at once: their syncs overlap (the flusher runs them in
  // parallel) instead of each being requested only once the previous
  // partition's was done (16 partitions: 16 syncs one after the other).
  std::vector<ShardJob<ErrorCode>> jobs;
  std::vector<size_t> index;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const TxnMarkerPartition& tp = partitions[i];
    auto info = topics_.find(tp.topic);
    if (!info || tp.partition < 0 || tp.partition >= info->partitions) {
      errors[i] = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      continue;
    }
    index.push_back(i);
    jobs.push_back({&owner(tp.topic, tp.partition),
                    [this, &tp, &marker, producer_id, producer_epoch, commit]() -> asio::awaitable<ErrorCode> {
                      auto* p = partition(tp.topic, tp.partition);
                      if (!p) co_return missing_partition_error(tp.topic, tp.partition);
                      auto appended = p->append_txn_marker(producer_id, producer_epoch, marker, now_ms());
                      if (appended.error != ErrorCode::NONE) co_return appended.error;
                      auto error = co_await p->wait_acknowledged(Offset(appended.last_offset), kTxnMarkerTimeoutMs);
                      if (error == ErrorCode::NONE && tp.topic == group::kOffsetsTopic) {
                        // txcoord: the marker on this __consumer_offsets partition is acknowledged: the
                        // group coordinator of partition tp.partition (on this, its owning shard) makes
                        // producer_id's pending transactional offset commits the committed ones
                        // (commit) or drops them (abort).
                        coordinator().complete_txn(tp.partition, producer_id, commit);
                      }
                      co_return error;
                    }});
  }
  auto written = co_await on_shards_concurrently(jobs, ErrorCode::UNKNOWN_SERVER_ERROR);
  for (size_t j = 0; j < index.size(); ++j) errors[index[j]] = written[j];
  co_return errors;
}

}  // namespace runnel
