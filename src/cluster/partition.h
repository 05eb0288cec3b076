#pragma once
// A partition as the broker serves it, and the one interface through which
// handlers and the group coordinator touch a partition: reads, appends,
// offsets, deletion of records, configuration, timestamp lookups, and the two
// kinds of waiters that hang off it: Produce requests with acks=all waiting
// for their batch to be fdatasync'd, and long-polling Fetch requests waiting
// for new data. Nothing above cluster/ sees the storage::PartitionLog behind
// it, so that replication can later change what "committed" means (the high
// watermark) in this one place. The PartitionManager opens, closes and drops
// partitions.
//
// Thread-safety: none; owned by one shard and used only on its thread. The
// flusher's completion is posted back to that shard before it touches state.
#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/await_callback.h"
#include "base/error_code.h"
#include "base/types.h"
#include "server/shard.h"
#include "storage/batch_reader.h"
#include "storage/flusher.h"
#include "storage/partition_log.h"

namespace runnel::cluster {

// Something a Fetch leaves on partitions while it long-polls; notify() is
// called (on the partition's shard) when new data is appended.
struct FetchWaiter {
  std::function<void()> notify;
};

// The leader epoch of every partition of a single node (Metadata, ListOffsets,
// Fetch and OffsetForLeaderEpoch all report it).
inline constexpr LeaderEpoch kSingleNodeLeaderEpoch{0};

class Partition {
 public:
  Partition(std::string topic, int32_t index, std::unique_ptr<storage::PartitionLog> log, storage::Flusher& flusher,
            Shard& shard);
  ~Partition();

  const std::string& topic() const { return topic_; }
  int32_t index() const { return index_; }
  // The leader epoch this broker serves the partition in. A single node is
  // the leader of every partition from the start, in epoch 0, for ever.
  LeaderEpoch leader_epoch() const { return kSingleNodeLeaderEpoch; }
  // Kafka's check of a request's current_leader_epoch (-1: none given, no check):
  // newer than ours UNKNOWN_LEADER_EPOCH (we have not heard of it yet),
  // older FENCED_LEADER_EPOCH (the client's metadata is stale).
  ErrorCode check_leader_epoch(int32_t current_leader_epoch) const;
  // OffsetForLeaderEpoch as this leader answers it: from the log's epoch
  // cache, with our own epoch in it from the start at the log end even before
  // we wrote in it, as Kafka's leader assigns it when it takes the partition
  // (so an empty partition answers epoch 0 with its end offset, not -1/-1).
  // Nothing is written for that: the entry is made durable by the first append.
  storage::EpochEndOffset end_offset_for_epoch(LeaderEpoch epoch) const;

  // Replication will hook in here: become_leader(epoch, ...) and
  // become_follower(leader, epoch), called by the PartitionManager, change
  // the role, and with it what the high watermark counts and who may append.
  // Not implemented yet: every partition is the single replica and leader of
  // itself.

  // The first offset still in the log (DeleteRecords and retention move it
  // forward).
  int64_t log_start_offset() const { return log_->log_start_offset(); }
  // The offset the next appended record will get.
  int64_t log_end_offset() const { return log_->log_end_offset(); }
  // The end of what consumers may see. Single replica: everything appended
  // is committed.
  int64_t high_watermark() const { return log_->log_end_offset(); }
  // The end of what read_committed consumers may see. No transactions: the
  // high watermark.
  int64_t last_stable_offset() const { return high_watermark(); }

  // What a Fetch sends: whole batches as file slices (for sendfile) from the
  // one that holds `offset`, up to `max_bytes` (but at least one batch when
  // `min_one`, KIP-74), never at or past the high watermark.
  // OFFSET_OUT_OF_RANGE when `offset` is outside [log start, high watermark].
  storage::ReadResult read(int64_t offset, uint64_t max_bytes, bool min_one) const;
  // The batches from the one that holds `offset`, at least one and up to
  // `max_bytes`, copied into memory, as far as the log end: for the broker's
  // own readers (the group coordinator loading __consumer_offsets).
  [[nodiscard]] storage::BatchRead read_into_memory(int64_t offset, uint64_t max_bytes) const;

  // Appends record batches (a Produce partition's, or the group
  // coordinator's) as PartitionLog::append does, and wakes the Fetch waiters.
  storage::AppendResult append(std::span<uint8_t> batches, int64_t now_ms);

  // Completes once every offset up to and including `offset` is on disk
  // (fdatasync'd): true; or false when the sync failed (the data may be lost:
  // the caller answers KAFKA_STORAGE_ERROR). Concurrent waiters share one sync
  // (group commit).
  asio::awaitable<bool> wait_durable(int64_t offset);

  // Leaves a long-polling Fetch's waiter, notified at the next append.
  void add_fetch_waiter(std::weak_ptr<FetchWaiter> waiter);

  // DeleteRecords: moves the log start offset forward to `offset` (never
  // back, never past the end), dropping whole segments below it. Returns the
  // new log start offset.
  int64_t delete_records_before(int64_t offset);

  // Applies a topic's changed configuration (IncrementalAlterConfigs).
  void set_config(const storage::LogConfig& config);
  // Applies retention.ms / retention.bytes and rolls the active segment when
  // segment.ms has passed (the manager's retention timer).
  void enforce_retention(int64_t now_ms);

  // ListOffsets by timestamp, exact to the record as Kafka answers: the first
  // record whose timestamp is >= ts, as {offset, timestamp}, or {-1, -1}.
  // Reads (and if need be decompresses) the one batch the time index points at.
  std::pair<int64_t, int64_t> lookup_timestamp(int64_t ts) const;
  // The record with the largest timestamp, as {offset, timestamp}, or {-1, -1}.
  std::pair<int64_t, int64_t> lookup_max_timestamp() const;

  // Lifecycle: called by the PartitionManager only.
  //
  // Syncs and closes the log (clean shutdown).
  void close();
  // The broker's clean shutdown in two steps (PartitionLog::prepare_shutdown):
  // prepare_shutdown() seals the log and tells whether it changed since it was
  // opened; finish_shutdown() follows once the broker has synced the file
  // system (`synced`), writing the marker and answering acks=all waiters.
  bool prepare_shutdown();
  void finish_shutdown(bool synced);
  // For a partition being deleted: fails its acks=all waiters; the log is
  // dropped without a sync.
  void abandon();

  // Syncs the log when it holds unsynced appends (acks=0/1) and none came for
  // `idle_ms`, so that the descriptor those appends pin is released.
  void flush_if_idle(int64_t now_ms, int64_t idle_ms);

 private:
  void request_flush(bool force = false);
  void on_flushed(int64_t durable_offset, int64_t sealed_below);

  std::string topic_;
  int32_t index_;
  std::unique_ptr<storage::PartitionLog> log_;
  storage::Flusher& flusher_;
  Shard& shard_;
  bool flush_in_flight_ = false;
  int64_t last_append_ms_ = 0;
  struct DurableWaiter {
    int64_t offset;
    std::function<void(bool)> resume;
  };
  std::deque<DurableWaiter> durable_waiters_;
  std::vector<std::weak_ptr<FetchWaiter>> fetch_waiters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace runnel::cluster
