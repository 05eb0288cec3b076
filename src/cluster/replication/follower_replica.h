#pragma once
// A partition replica as the follower's fetcher (replica_fetcher.h) sees it:
// what it reports to the leader (log end, log start, durable offset, last
// epoch) and what it does with the answer (append, truncate, start over,
// learn the high watermark and log start). cluster::Partition implements it;
// the interface lives here so that replication/ does not include the
// partition, which itself holds replication/leader_state.h.
//
// Thread-safety: as the implementation (a Partition: its shard only).
#include <asio.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/types.h"
#include "storage/epoch_checkpoint.h"
#include "storage/partition_log.h"

namespace runnel::cluster::replication {

class FollowerReplica {
 public:
  virtual bool is_leader() const = 0;
  // Its storage failed (cluster::Partition::offline()): it copies nothing
  // until its broker restarts and recovers it.
  virtual bool offline() const = 0;
  // The leader this replica follows (kNoNode: none yet), or itself.
  virtual NodeId leader() const = 0;
  virtual LeaderEpoch leader_epoch() const = 0;
  virtual Offset log_start_offset() const = 0;
  virtual Offset log_end_offset() const = 0;
  virtual Offset high_watermark() const = 0;
  // Every offset below it is fdatasync'd.
  virtual Offset durable_offset() const = 0;
  // Whether the broker's follower throttle applies to this replica
  // (follower.replication.throttled.replicas names it on this broker).
  virtual bool follower_throttled() const = 0;
  // The epoch of the newest batch (or assigned epoch); nullopt for a log
  // without epochs.
  virtual std::optional<LeaderEpoch> latest_epoch() const = 0;
  virtual std::vector<storage::EpochEntry> epoch_entries() const = 0;

  // Batches fetched from the leader, stored as they are.
  virtual storage::AppendResult append_replicated(std::span<const uint8_t> batches, int64_t now_ms) = 0;
  // The leader's high watermark from a Fetch response.
  virtual void set_leader_high_watermark(Offset high_watermark) = 0;
  // Discards the divergent suffix at and above `offset`; false on I/O errors.
  virtual asio::awaitable<bool> truncate_to(Offset offset) = 0;
  // Starts over, empty, at `offset` (past this replica's log end); false on
  // I/O errors.
  virtual asio::awaitable<bool> truncate_fully_and_start_at(Offset offset) = 0;
  // Follows the leader's log start forward; returns the new log start.
  virtual Offset delete_records_before(Offset offset) = 0;
  // Completes once every offset up to and including `offset` is durable
  // (false: the sync failed).
  virtual asio::awaitable<bool> wait_durable(Offset offset) = 0;

 protected:
  ~FollowerReplica() = default;
};

}  // namespace runnel::cluster::replication
