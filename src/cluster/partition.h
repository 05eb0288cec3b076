#pragma once
// A partition as the broker serves it, and the one interface through which
// handlers and the group coordinator touch a partition: reads, appends,
// offsets, deletion of records, configuration, timestamp lookups, and the two
// kinds of waiters that hang off it: Produce requests with acks=all waiting
// for their batch to be fdatasync'd, and long-polling Fetch requests waiting
// for new data. Nothing above cluster/ sees the storage::PartitionLog behind
// it, so that replication can later change what "committed" means (the high
// watermark) in this one place. The PartitionManager opens, closes and drops
// partitions. The follower's fetcher sees it through replication::
// FollowerReplica (replication/ may not include this header).
//
// Thread-safety: none; owned by one shard and used only on its thread. The
// flusher's completion is posted back to that shard before it touches state.
#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/await_callback.h"
#include "base/clock.h"
#include "base/error_code.h"
#include "base/types.h"
#include "cluster/flush_gate.h"
#include "cluster/replication/follower_replica.h"
#include "cluster/replication/leader_state.h"
#include "runtime/shard.h"
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

class Partition final : public replication::FollowerReplica {
 public:
  // `gate` (optional) bounds the shard's syncs in flight.
  Partition(std::string topic, PartitionId index, std::unique_ptr<storage::PartitionLog> log, storage::Flusher& flusher,
            Shard& shard, std::shared_ptr<FlushGate> gate = nullptr);
  ~Partition();

  const std::string& topic() const { return topic_; }
  PartitionId index() const { return index_; }

  // Offline: an fdatasync failed, or a write failed for a reason other than
  // space or descriptors running out. What was written may not be on disk,
  // and a later sync that succeeds would not say so (the kernel may have
  // dropped the pages), so nothing is appended, read or acknowledged until
  // the broker restarts and recovers the log from what is there, as Kafka
  // takes a failed log directory offline. `on_offline` (set once, by the
  // partition manager) hears of it.
  bool offline() const override { return offline_; }
  void set_on_offline(std::function<void()> on_offline) { on_offline_ = std::move(on_offline); }
  // Roles. A partition opens as the leader of itself in epoch 0 (a single
  // node, for ever). In a cluster the PartitionManager applies the role etcd
  // gives it, with replicated(): from then on the high watermark counts only
  // data the whole ISR has made durable, and a follower takes batches only
  // from its leader (append_replicated).
  //
  // Switches to the cluster's rules (called once, before any role).
  void set_replicated(NodeId self) {
    replicated_ = true;
    self_ = self;
    role_ = Role::None;
  }
  // Leads in `epoch` (>= the current one), which starts at the log end
  // (end_offset_for_epoch counts it from there; its first append records it
  // in the epoch cache); follower progress starts afresh. The same epoch
  // again only updates the replicas and ISR (an ISR change committed).
  void become_leader(LeaderEpoch epoch, std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms);
  // Follows `leader` (kNoNode: none yet) in `epoch`: appends stop, acks=all
  // waiters get NOT_LEADER_OR_FOLLOWER.
  void become_follower(NodeId leader, LeaderEpoch epoch);
  bool is_leader() const override { return role_ == Role::Leader; }
  NodeId leader() const override { return role_ == Role::Leader ? self_ : leader_; }
  // Kafka's OFFSET_NOT_AVAILABLE condition: a new leader whose high
  // watermark has not yet reached the log end it took over with cannot say
  // where the committed log ends (ListOffsets answers so until it can).
  bool high_watermark_behind_epoch_start() const { return replicated_ && hw_ < epoch_start_offset_; }
  // The leader epoch this broker serves the partition in (a single node: 0).
  LeaderEpoch leader_epoch() const override { return epoch_; }
  // Kafka's check of a request's current_leader_epoch (kUndefinedEpoch: none
  // given, no check):
  // newer than ours UNKNOWN_LEADER_EPOCH (we have not heard of it yet),
  // older FENCED_LEADER_EPOCH (the client's metadata is stale).
  ErrorCode check_leader_epoch(LeaderEpoch current_leader_epoch) const;
  // OffsetForLeaderEpoch as this leader answers it: from the log's epoch
  // cache, with our own epoch in it from the start at the log end even before
  // we wrote in it, as Kafka's leader assigns it when it takes the partition
  // (so an empty partition answers epoch 0 with its end offset, not -1/-1).
  // Nothing is written for that: the entry is made durable by the first append.
  storage::EpochEndOffset end_offset_for_epoch(LeaderEpoch epoch) const;

  // Leader side of replication.
  //
  // A follower's Fetch (replica_id = `node`): updates its progress and with
  // it the high watermark (waking acks=all waiters and fetches).
  void on_follower_fetch(NodeId node, Offset fetch_offset, Offset durable_offset, int64_t now_ms);
  // The ISR this leader should ask etcd for (members lagging more than
  // `lag_max_ms` out, caught-up replicas in), unless a change is in flight.
  std::optional<std::vector<NodeId>> proposed_isr(int64_t now_ms, int64_t lag_max_ms) const;
  // The leader could not be fetched from until `now_ms` (it was fenced):
  // its ISR members count as caught up then (LeaderState::restart_lag_clocks).
  void restart_follower_lag_clocks(int64_t now_ms);
  const std::vector<NodeId>& isr() const;
  // Whether the broker's replication throttle (replication/replication_throttle.h)
  // applies to this replica: as leader, to what it sends followers out of
  // the ISR (its topic's leader.replication.throttled.replicas names it on
  // this broker); as follower, to what it fetches while behind the leader
  // (follower.replication.throttled.replicas).
  bool leader_throttled() const;
  bool follower_throttled() const override;
  // An ISR change is being written (no second one meanwhile); its outcome:
  // `committed` makes `isr` this leader's at once (etcd's watch repeats it).
  void isr_change_started() { isr_change_in_flight_ = true; }
  bool isr_change_in_flight() const { return isr_change_in_flight_; }
  void isr_change_finished(bool committed, std::vector<NodeId> isr, int64_t now_ms);
  // acks=all before appending: NOT_ENOUGH_REPLICAS while the ISR is smaller
  // than min.insync.replicas (always NONE on a single node).
  ErrorCode check_min_insync() const;
  // acks=all after appending: completes when `offset` is acknowledged.
  // Single node: when it is fdatasync'd (NONE, or KAFKA_STORAGE_ERROR). In a
  // cluster: when the high watermark passes it (NONE), or after `timeout_ms`
  // (REQUEST_TIMED_OUT, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is
  // below min.insync.replicas), or NOT_LEADER_OR_FOLLOWER when leadership is
  // lost first.
  asio::awaitable<ErrorCode> wait_acknowledged(Offset offset, int64_t timeout_ms);

  // Follower side of replication.
  //
  // Batches fetched from the leader, stored as they are
  // (PartitionLog::append_replicated); a sync is requested at once.
  storage::AppendResult append_replicated(std::span<const uint8_t> batches, int64_t now_ms) override;
  // The leader's high watermark from a Fetch response (capped at our end).
  void set_leader_high_watermark(Offset high_watermark) override;
  // Discards the divergent suffix at and above `offset` (PartitionLog::
  // truncate_to), once no sync is in flight. False on I/O errors.
  asio::awaitable<bool> truncate_to(Offset offset) override;
  // This replica's log ends below the leader's log start: start over, empty,
  // at `offset` (PartitionLog::truncate_fully_and_start_at), once no sync is
  // in flight. False on I/O errors.
  asio::awaitable<bool> truncate_fully_and_start_at(Offset offset) override;
  // What this replica has fdatasync'd: every offset below it.
  Offset durable_offset() const override { return Offset(log_->flushed_offset()); }
  // The epoch of the newest batch (or assigned epoch), for Fetch's
  // last_fetched_epoch; nullopt for a log without epochs.
  std::optional<LeaderEpoch> latest_epoch() const override { return log_->latest_epoch(); }
  std::vector<storage::EpochEntry> epoch_entries() const override { return log_->epoch_entries(); }

  // The first offset still in the log (DeleteRecords and retention move it
  // forward).
  Offset log_start_offset() const override { return Offset(log_->log_start_offset()); }
  // The offset the next appended record will get.
  Offset log_end_offset() const override { return Offset(log_->log_end_offset()); }
  // The end of what consumers may see: everything appended on a single node;
  // in a cluster what the ISR holds durably (see LeaderState).
  Offset high_watermark() const override { return replicated_ ? hw_ : log_end_offset(); }
  // What was appended to this partition as its leader (Produce, and the
  // coordinators' own records), for /metrics.
  struct Traffic {
    uint64_t records_in = 0;
    uint64_t bytes_in = 0;
  };
  const Traffic& traffic() const { return traffic_; }
  // Bytes in the partition's segments.
  uint64_t size_bytes() const { return log_->size_bytes(); }
  // The end of what read_committed consumers may see (KIP-98): the high
  // watermark, or below it the first offset of the earliest transaction
  // still open or whose marker is not yet below the high watermark
  // (PartitionLog::last_stable_offset).
  Offset last_stable_offset() const { return Offset(log_->last_stable_offset(high_watermark().value())); }
  // The aborted transactions a read_committed Fetch of [from, to) must list
  // (PartitionLog::aborted_transactions).
  std::vector<storage::AbortedTxn> aborted_transactions(Offset from, Offset to) const {
    return log_->aborted_transactions(from.value(), to.value());
  }

  // What a Fetch sends: whole batches as file slices (for sendfile) from the
  // one that holds `offset`, up to `max_bytes` (but at least one batch when
  // `min_one`, KIP-74), never at or past the high watermark (`to_log_end`:
  // the log end, for a follower's fetch; `read_committed`: the last stable
  // offset). OFFSET_OUT_OF_RANGE when `offset` is outside [log start, log
  // end]; nothing when it is at or past the limit.
  storage::ReadResult read(Offset offset, uint64_t max_bytes, bool min_one, bool to_log_end = false,
                           bool read_committed = false) const;
  // The batches from the one that holds `offset`, at least one and up to
  // `max_bytes`, copied into memory, as far as the log end: for the broker's
  // own readers (the group coordinator loading __consumer_offsets).
  [[nodiscard]] storage::BatchRead read_into_memory(Offset offset, uint64_t max_bytes) const;

  // Appends record batches (a Produce partition's, or the group
  // coordinator's) as PartitionLog::append does, and wakes the Fetch waiters.
  // `verification`: a Produce's KIP-890 guard (storage/producer_state.h).
  storage::AppendResult append(std::span<uint8_t> batches, int64_t now_ms,
                               const storage::TxnVerification& verification = {});
  // KIP-890: opens (or reuses) the producer's verification before its
  // transactional batch is checked with the coordinator
  // (PartitionLog::start_txn_verification). NOT_LEADER_OR_FOLLOWER /
  // KAFKA_STORAGE_ERROR unless this replica leads and is online.
  ErrorCode start_txn_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms,
                                   uint64_t& guard);
  // Writes a transaction marker (PartitionLog::append_txn_marker) as the
  // leader, and wakes the Fetch waiters (the last stable offset may move).
  // Acknowledge it with wait_acknowledged() as any acks=all append.
  storage::AppendResult append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                          const protocol::TxnMarker& marker, int64_t now_ms);
  // The idempotent producers this replica knows (DescribeProducers).
  const storage::ProducerStateTable& producer_state() const;

  // Completes once every offset up to and including `offset` is on disk
  // (fdatasync'd): true; or false when the sync failed (the data may be lost:
  // the caller answers KAFKA_STORAGE_ERROR). Concurrent waiters share one sync
  // (group commit).
  asio::awaitable<bool> wait_durable(Offset offset) override;
  // The same as a callback, called on this shard, now or later: for a caller
  // waiting on many partitions at once without a coroutine for each.
  void when_durable(Offset offset, std::function<void(bool)> done);
  // Whether acks=all waits for followers (wait_acknowledged), or, on a single
  // node, only for this replica's own sync (wait_durable).
  bool replicated() const { return replicated_; }

  // Leaves a long-polling Fetch's waiter, notified at the next append (a
  // marker included), high watermark move, change of role, or move of the
  // log start (a follower's fetch session answers a partition only when
  // something woke its waiter, or at its periodic sweep).
  void add_fetch_waiter(std::weak_ptr<FetchWaiter> waiter);

  // DeleteRecords: moves the log start offset forward to `offset` (never
  // back, never past the end), dropping whole segments below it. Returns the
  // new log start offset.
  Offset delete_records_before(Offset offset) override;

  // Applies a topic's changed configuration (IncrementalAlterConfigs).
  void set_config(const storage::LogConfig& config);
  const storage::LogConfig& config() const { return log_->config(); }
  // How often the log was cut (truncate_to, truncate_fully_and_start_at, and
  // a failed append, whose bytes are cut back and written over by the next
  // one): a copy of its files taken before is no longer a prefix of them.
  uint64_t truncations() const { return truncations_; }
  // The log's identity (PartitionLog::id()): another one after a reopen.
  uint64_t log_id() const { return log_->id(); }
  // Applies retention.ms / retention.bytes and rolls the active segment when
  // segment.ms has passed (the manager's retention timer).
  void enforce_retention(int64_t now_ms);

  // Log compaction (storage/log_cleaner.h, cluster/log_cleaner_service.h):
  // the round due now (below the last stable offset), the swap of a cleaned
  // group (a swap that fails past its commit point takes the partition
  // offline: the next start completes it), and the end of a round.
  std::optional<storage::CleanPlan> plan_cleaning(int64_t now_ms);
  storage::LogCleaner::SwapOutcome swap_cleaned(const storage::CleanedGroup& group);
  void cleaning_done(const storage::CleanPlan& plan, const storage::CleanResult& result);

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
  [[nodiscard]] bool prepare_shutdown();
  void finish_shutdown(bool synced);
  // For a partition being deleted: fails its acks=all waiters; the log is
  // dropped without a sync.
  void abandon();

  // Syncs the log when it holds unsynced appends (acks=0/1) and none came for
  // `idle_ms`, so that the descriptor those appends pin is released.
  // Also syncs when the topic's flush policy calls for it (flush_due). Returns
  // how soon it wants to be asked again for flush.ms (INT64_MAX: not at all).
  int64_t flush_if_idle(int64_t now_ms, int64_t idle_ms);
  // Kafka's flush policy for acks=0/1 data: flush.messages records, or
  // flush.ms since the last sync, are unsynced.
  bool flush_due(int64_t now_ms) const;
  // Whether flush.messages records are unsynced (an acks=1 append waits for
  // the sync then, as Kafka's append flushes before it returns).
  bool flush_messages_due() const;

 private:
  // Resumes once no sync is in flight (false: the partition went meanwhile).
  // A truncation must not race a sync that counts the data it cuts.
  asio::awaitable<bool> wait_no_sync_in_flight();
  // What every append as the leader shares around `write` (the log call):
  // only a leader that is online appends; a storage error takes the
  // partition offline (`what` names the write in the log line); a success
  // moves the single node's high watermark, wakes the Fetch waiters and, in a
  // cluster, syncs at once (the high watermark moves only once it is durable).
  storage::AppendResult append_as_leader(const char* what, int64_t now_ms,
                                         const std::function<storage::AppendResult()>& write);
  enum class Role { None, Leader, Follower };
  // Queues a sync of the log (at most one in flight). `have_slot`: the
  // FlushGate slot was handed over already.
  void request_flush(bool force = false, bool have_slot = false);
  void on_flushed(int64_t durable_offset, int64_t sealed_below);
  // Takes the partition offline (see offline()) and says why, once.
  void go_offline(const std::string& why);
  // After a failed append: offline unless `error` (an errno) is one that
  // passes (a full disk, descriptors or a segment size running out).
  void on_write_error(int error);
  // Recomputes the high watermark (leader) and wakes whoever waits on it.
  void advance_high_watermark();
  // After an ISR change: with the ISR below min.insync.replicas, answers every
  // acks=all waiter NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's DelayedProduce).
  void answer_waiters_below_min_insync();
  void notify_fetch_waiters();
  // Completes acks=all waiters: those the high watermark passed with NONE,
  // all of them with `error` when it is not NONE.
  void resume_commit_waiters(ErrorCode error);

  std::string topic_;
  PartitionId index_;
  std::unique_ptr<storage::PartitionLog> log_;
  storage::Flusher& flusher_;
  Shard& shard_;
  bool flush_in_flight_ = false;
  std::shared_ptr<FlushGate> gate_;
  bool waiting_at_gate_ = false;
  int64_t last_append_ms_ = 0;
  int64_t last_flush_ms_ = wall_clock_ms();  // when a sync last completed (flush.ms)
  Traffic traffic_;
  struct DurableWaiter {
    Offset offset;
    std::function<void(bool)> resume;
  };
  std::deque<DurableWaiter> durable_waiters_;
  std::vector<std::weak_ptr<FetchWaiter>> fetch_waiters_;
  // Replication (set_replicated); a single node keeps the defaults.
  bool replicated_ = false;
  NodeId self_ = kNoNode;
  Role role_ = Role::Leader;
  LeaderEpoch epoch_ = kSingleNodeLeaderEpoch;
  NodeId leader_ = kNoNode;  // a follower's leader
  Offset hw_{0};
  Offset epoch_start_offset_{0};  // the log end when this replica became leader
  uint64_t truncations_ = 0;
  std::unique_ptr<replication::LeaderState> leader_state_;
  bool isr_change_in_flight_ = false;
  struct CommitWaiter {
    Offset offset;
    std::shared_ptr<std::function<void(ErrorCode)>> resume;  // emptied once called
  };
  std::deque<CommitWaiter> commit_waiters_;
  bool offline_ = false;
  std::function<void()> on_offline_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace runnel::cluster
