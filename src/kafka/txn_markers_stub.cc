// TEMPORARY (until branch txlog is merged, which brings the real one): writes
// no control batch, only tells the group coordinator of an offsets partition,
// so the coordinator's flow can be exercised end to end.
#include "kafka/broker.h"

namespace runnel {

asio::awaitable<std::vector<ErrorCode>> Broker::write_txn_markers(int64_t producer_id, int16_t producer_epoch,
                                                                  bool commit, int32_t coordinator_epoch,
                                                                  const std::vector<TxnMarkerPartition>& partitions) {
  std::vector<ErrorCode> errors;
  for (const auto& tp : partitions) {
    auto one = [this, &tp, producer_id, commit]() {
      if (!partition(tp.topic, tp.partition)) return missing_partition_error(tp.topic, tp.partition);
      // txcoord: a marker on __consumer_offsets completes the group's pending transactional offsets.
      if (tp.topic == group::kOffsetsTopic) coordinator().complete_txn(tp.partition, producer_id, commit);
      return ErrorCode::NONE;
    };
    errors.push_back(co_await on_shard(owner(tp.topic, tp.partition), one));
  }
  co_return errors;
}

}  // namespace runnel
