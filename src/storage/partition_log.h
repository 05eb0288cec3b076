#pragma once
// One partition's append-only log: a sequence of segments on disk, each a
// .log file of record batches exactly as on the wire, with sparse offset and
// time indexes. Assigns offsets at append and serves reads as file slices.
//
// Descriptors: a log holds none of its own. Its segments open files on demand
// through a FileCache (one per shard in the broker), except that the active
// segment keeps the log handle it appended through until that data is synced
// (see segment.h). After a clean stop, open() reads only the active segment
// and the checkpoints; older segments are opened when first read.
//
// Thread-safety: none. A PartitionLog is owned by one shard and touched only
// from that shard's thread. The one exception is sync_handles(), whose result
// (shared file handles) the flusher thread may fdatasync concurrently.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/error_code.h"
#include "base/file_slice.h"
#include "base/types.h"
#include "protocol/batch_validator.h"
#include "protocol/control_record.h"
#include "storage/env.h"
#include "storage/file_cache.h"
#include "storage/leader_epoch_cache.h"
#include "storage/log_cleaner.h"
#include "storage/log_config.h"
#include "storage/producer_state.h"
#include "storage/txn_index.h"

namespace runnel::storage {

struct AppendResult {
  ErrorCode error = ErrorCode::NONE;
  int64_t base_offset = -1;      // offset of the first record appended
  int64_t last_offset = -1;      // offset of the last record appended
  int64_t log_append_time = -1;  // -1 unless message.timestamp.type=LogAppendTime
  int64_t log_start_offset = 0;
  // Why a batch was refused (Produce v8+ error_message, record_errors).
  std::string error_message;
  std::vector<protocol::RecordError> record_errors;
};

struct ReadResult {
  ErrorCode error = ErrorCode::NONE;  // OFFSET_OUT_OF_RANGE when offset is outside [start, end]
  std::vector<FileSlice> slices;      // whole batches, in order
  uint64_t bytes = 0;
  int64_t next_offset = -1;  // one past the last offset of the batches read (-1: none)
};

class PartitionLog {
 public:
  // Opens (creating if missing) the log in `dir`, running recovery: after an
  // unclean stop every batch past the recovery point is checked (length, magic,
  // CRC) and the log is truncated at the first bad byte; indexes are rebuilt.
  static std::unique_ptr<PartitionLog> open(const std::filesystem::path& dir, const LogConfig& config, int64_t now_ms);
  // The same through a given Env (tests pass a FaultInjectionEnv) and file
  // cache (which must outlive the log; none: a small one of its own). Throws
  // std::runtime_error when the directory or a segment cannot be created.
  static std::unique_ptr<PartitionLog> open(const std::filesystem::path& dir, const LogConfig& config, int64_t now_ms,
                                            Env* env, FileCache* files = nullptr);
  static constexpr size_t kPrivateCacheCapacity = 32;
  // File names in the partition directory besides the segments (FORMAT.md).
  static constexpr const char* kCleanShutdownFile = ".clean-shutdown";
  static constexpr const char* kLogStartOffsetFile = "log-start-offset";
  static constexpr const char* kRecoveryPointFile = "recovery-point";
  // A suffix truncation in progress (see truncate_to and FORMAT.md).
  static constexpr const char* kTruncateToFile = "truncate-to";
  ~PartitionLog();

  // Appends one or more v2 record batches (the `records` field of a Produce
  // partition). Every batch is validated as Kafka's LogValidator does
  // (protocol/batch_validator.h: header, CRC-32C, every record, timestamps
  // against message.timestamp.before/after.max.ms at `now_ms`) and patched in
  // place: base offset, partition leader epoch and the max timestamp, taken
  // from the records for CreateTime and `now_ms` for LogAppendTime (attributes
  // and CRC rewritten when they change). Returns CORRUPT_MESSAGE /
  // INVALID_RECORD / INVALID_TIMESTAMP / MESSAGE_TOO_LARGE (a batch over
  // max.message.bytes) / RECORD_LIST_TOO_LARGE without writing anything.
  // Batches with a producer id are checked against the producer state:
  // OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH refuse the append;
  // a retried duplicate of one of a producer's last five batches appends
  // nothing and answers NONE with the original batch's offsets. A
  // transactional batch that would open its producer's transaction here is
  // refused with INVALID_TXN_STATE unless `verification` allows it
  // (ProducerStateTable::append_allowed: KIP-890), and a producer's batch
  // above the lowest sequence of its verification in progress with
  // OUT_OF_ORDER_SEQUENCE_NUMBER.
  AppendResult append(std::span<uint8_t> batches, LeaderEpoch leader_epoch, int64_t now_ms,
                      const TxnVerification& verification = {});

  // A follower's append: batches copied from the leader, stored exactly as
  // the leader has them (offsets, leader epochs and timestamps are kept, not
  // assigned). Only whole batches are taken: a partial batch at the end (a
  // Fetch cut by its byte limit) is left for the next fetch. Each must be
  // intact (validate_batch, replication rules) and the first must start at
  // or after the log end, each after the one before (offset gaps are those
  // of a compacted leader log); otherwise CORRUPT_MESSAGE
  // and nothing is written. The epoch cache learns every new epoch before its
  // first batch. Returns base/last offset of what was appended (-1 when
  // nothing was).
  AppendResult append_replicated(std::span<const uint8_t> batches, int64_t now_ms);

  // Whole batches starting with the one that contains `offset`, up to
  // `max_bytes` in total, but always at least one whole batch if any exist at
  // or after `offset` and min_one is true. Reads nothing at or past `limit_offset`
  // (the high watermark). A `bounded` read (a Fetch, whose slices hold their
  // handles until the response is written) stops short, without an error,
  // where the file cache has no room for another handle
  // (FileCache::get_for_read); an unbounded one (readers that copy the bytes
  // at once) always opens what it needs.
  ReadResult read(int64_t offset, uint64_t max_bytes, bool min_one, int64_t limit_offset, bool bounded = false) const;

  int64_t log_start_offset() const;
  int64_t log_end_offset() const;  // next offset to be assigned

  // ListOffsets by timestamp: the first offset whose batch max timestamp is
  // >= ts, or -1 if none. Also latest/earliest via the accessors above.
  int64_t offset_for_timestamp(int64_t ts) const;
  // The largest timestamp in the log and its offset (ListOffsets -3, KIP-734).
  std::pair<int64_t, int64_t> max_timestamp_and_offset() const;

  // DeleteRecords: moves the log start offset forward (never back, never past
  // the end) and deletes segments entirely below it. Returns the new start:
  // the old one, nothing changed, when the new start could not be written
  // durably first (errno set; KAFKA_STORAGE_ERROR to the client).
  int64_t delete_records_before(int64_t offset);

  // Suffix truncation (a follower discarding a divergent suffix): removes
  // every record at or above `offset`. Whole segments above it go, the one
  // holding it is cut at the first batch whose last offset is >= `offset`
  // (so the log end may land below `offset` when a batch straddles it, as in
  // Kafka), the epoch cache loses the epochs that started there, and the
  // result is synced. An offset at or past the end cuts nothing but the
  // epochs that start at the log end without a record (an epoch this replica
  // assigned as leader and never wrote in). Crash-safe: the target is first written durably to
  // `truncate-to`, which open() honours, so once the call has begun changing
  // files no record at or above `offset` survives a crash. One below the log start is refused (false,
  // errno EINVAL). False (errno set) on I/O errors: the log is then left for
  // the next open() to finish. Precondition: no sync_handles() request in
  // flight (its durable_offset would outlive the data it counted).
  [[nodiscard]] bool truncate_to(Offset offset);
  // A follower whose log ends below its leader's log start (it was away while
  // retention or DeleteRecords moved the leader on) starts over, empty, at
  // `offset` (Kafka's truncateFullyAndStartAt): every segment and epoch goes.
  // Crash-safe through the log start checkpoint, written durably first: an
  // open() that finds the start past the end does the rest. Refused (false,
  // errno EINVAL) unless `offset` lies past the log end. Same precondition as
  // truncate_to.
  [[nodiscard]] bool truncate_fully_and_start_at(Offset offset);

  // Leader epochs (storage/leader_epoch_cache.h). Every append records its
  // epoch; OffsetForLeaderEpoch answers from end_offset_for_epoch().
  // Records that `epoch` starts at the log end, before any record of it is
  // written: a replica becoming leader (Kafka's makeLeader), so that it
  // answers OffsetForLeaderEpoch for older epochs at once. An epoch not above
  // the latest changes nothing. False (errno set) if the file write failed.
  [[nodiscard]] bool assign_epoch(LeaderEpoch epoch);
  std::optional<LeaderEpoch> latest_epoch() const;
  EpochEndOffset end_offset_for_epoch(LeaderEpoch epoch) const;
  const std::vector<EpochEntry>& epoch_entries() const;

  // Applies retention.ms / retention.bytes to whole segments, oldest first,
  // none holding an offset at or above `high_watermark` (the log end when
  // the log is not replicated); the active segment goes too once all of it
  // is due, after a roll (Kafka's rule). Rolls the active segment when
  // segment.ms has elapsed.
  void enforce_retention(int64_t now_ms, int64_t high_watermark = INT64_MAX);

  void set_config(const LogConfig& config);
  const LogConfig& config() const;
  // The Env the log does its I/O through (batch_reader.h reads its slices with it).
  Env& env() const;

  // Durability. The flusher calls fdatasync on these handles (from its own
  // thread) and then reports back, on the owning shard, with mark_flushed().
  // sync_handles() returns the files to sync and the offset that syncing
  // them makes durable: the log file of the active segment (its indexes are
  // rebuilt after an unclean stop, so they need no sync per acknowledgement),
  // and all three files of every rolled segment not yet known to be synced.
  struct SyncRequest {
    std::vector<std::shared_ptr<const FileHandle>> files;
    int64_t durable_offset = 0;  // log end offset covered by the sync
    // Every segment below this base offset is wholly synced (log and
    // indexes) once the request completes.
    int64_t sealed_below = 0;
    // With LogConfig::page_cache_tail_bytes: log files whose bytes below
    // `end` this request makes durable and that may then leave the page
    // cache (Env::drop_cache), applied only once every sync succeeded.
    struct CacheDrop {
      std::shared_ptr<const FileHandle> file;
      uint64_t end = 0;
    };
    std::vector<CacheDrop> cache_drops;
  };
  // Not const: with page_cache_tail_bytes it records how far the drops it
  // asks for reach.
  SyncRequest sync_handles();
  // Records a completed sync_handles() request (its durable_offset and
  // sealed_below).
  void mark_flushed(int64_t durable_offset, int64_t sealed_below);
  int64_t flushed_offset() const;

  // Whether anything appended, or any rolled segment, is not yet synced.
  bool has_unsynced_data() const;

  // Clean shutdown: syncs what is not yet synced, writes indexes and the
  // clean-shutdown marker. A log not changed since a clean start does
  // nothing: the previous marker still stands. A log destroyed without
  // close() is an unclean stop: the next open() recovers.
  void close();
  // Clean shutdown in two steps, for a broker closing thousands of logs at
  // once. prepare_shutdown() seals the active segment and returns whether the
  // log changed since it was opened (if not, its marker still stands and
  // nothing more is to be done). The caller then makes every file durable at
  // once (Env::sync_filesystem on a handle held since start-up) and only if
  // that succeeded calls finish_shutdown(), which writes the marker without a
  // sync of its own; the caller syncs the file system once more after all.
  // A marker lost to a crash before that only makes the next start recover.
  [[nodiscard]] bool prepare_shutdown();
  void finish_shutdown();

  // Idempotent producers (storage/producer_state.h): every append records
  // the batches that carry a producer id, whoever appends them (a leader's
  // checked append, a follower's replicated one, recovery); append() also
  // checks them first. Snapshots `<offset>.snapshot` are written at every
  // roll and clean shutdown; open() loads the newest one not past the log
  // end and replays the batches after it (FORMAT.md).
  const ProducerStateTable& producer_state() const;
  static constexpr const char* kSnapshotSuffix = ".snapshot";
  // KIP-890: ProducerStateTable::start_verification on this log's table,
  // before a client's transactional batch is verified with the coordinator.
  uint64_t start_txn_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms);

  // Transactions (KIP-98). Transactional batches open their producer's
  // transaction (producer_state.h); a transaction marker closes it. Every
  // append path records markers too (replicated, recovered), and a marker
  // that closes a transaction as ABORT adds it to the aborted-transaction
  // index of the segment it lands in (`<base>.txnindex`, txn_index.h).
  //
  // Writes a COMMIT or ABORT marker for `producer_id` (a control batch, as
  // the coordinator's WriteTxnMarkers asks) in `leader_epoch`, after
  // ProducerStateTable::check_marker: INVALID_PRODUCER_EPOCH /
  // TRANSACTION_COORDINATOR_FENCED write nothing. A marker for a producer
  // with no transaction open is written all the same, as Kafka does.
  AppendResult append_txn_marker(int64_t producer_id, int16_t producer_epoch, const protocol::TxnMarker& marker,
                                 LeaderEpoch leader_epoch, int64_t now_ms);
  // The last stable offset under `high_watermark`: below the first offset of
  // every open transaction and of every closed one whose marker is not yet
  // below the high watermark (Kafka's first unstable offset), never below
  // the log start.
  int64_t last_stable_offset(int64_t high_watermark) const;
  // Forgets closed transactions whose marker is below `high_watermark`.
  void on_high_watermark(int64_t high_watermark);
  // Kafka's collectAbortedTransactions: the aborted transactions whose
  // marker is at or after `from` and whose first offset is below `to`,
  // ascending by marker offset.
  std::vector<AbortedTxn> aborted_transactions(int64_t from, int64_t to) const;

  // Log compaction (storage/log_cleaner.h), for cleanup.policy with compact.
  // The cleaner thread asks the owning shard for a plan, cleans on its own
  // thread from the closed segment files, and hands each cleaned group back
  // to the shard to be swapped in.
  //
  // A number no other log opened in this process has: a plan and its swap
  // must meet the same log (a partition dropped and opened again does not).
  uint64_t id() const;
  // The cleaning round due now, or nullopt when none is: not compacted, no
  // closed segment cleanable, or too little dirt (min.cleanable.dirty.ratio;
  // max.compaction.lag.ms overrides it, and a delete horizon that has passed
  // calls for a round as well). Cleanable are the closed segments below
  // `last_stable_offset` (the high watermark and open transactions), below
  // the first segment holding a record younger than min.compaction.lag.ms,
  // and synced below the recovery point (a cleaned segment is never
  // scanned by recovery, so an offset gap at its end is never taken for a
  // torn tail).
  std::optional<CleanPlan> plan_cleaning(int64_t now_ms, int64_t last_stable_offset);
  // Swaps a cleaned group in (segment_swap.h): Refused, changing nothing,
  // unless the replaced segments are still exactly as planned; Failed on an
  // I/O error past the commit point (the caller takes the partition offline;
  // the next open() completes the swap).
  LogCleaner::SwapOutcome swap_cleaned(const CleanedGroup& group);
  // A round ended after swapping everything up to `cleaned_through` (the
  // next round's first dirty offset, kept in `cleaner-offset`), leaving
  // tombstones or markers that may go at `next_horizon_ms`.
  void cleaning_done(int64_t cleaned_through, int64_t next_horizon_ms);
  int64_t cleaned_through() const;
  static constexpr const char* kCleanerOffsetFile = "cleaner-offset";

  // Introspection for tests and metrics.
  size_t segment_count() const;
  std::vector<int64_t> segment_base_offsets() const;
  uint64_t size_bytes() const;
  // Whether open() had to recover (no valid clean-shutdown marker), and how
  // many bytes recovery cut from the log.
  bool recovered_on_open() const;
  uint64_t bytes_truncated_on_open() const;

  // Removes the partition directory and everything in it (DeleteTopics).
  static void destroy(const std::filesystem::path& dir);

 private:
  PartitionLog() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runnel::storage
