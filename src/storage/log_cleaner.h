#pragma once
// Log compaction (cleanup.policy=compact), Kafka's LogCleaner/Cleaner: keeps
// the latest record of every key, drops tombstones and transaction markers
// once delete.retention.ms has passed since they were first cleaned, and
// drops the records of aborted transactions.
//
// One cleaning round of one partition, given a CleanPlan taken on its shard
// (PartitionLog::plan_cleaning):
//  1. the offset map: every key of the dirty section [first_dirty,
//     first_uncleanable) and its latest offset, skipping aborted
//     transactions, as far as the map holds (its latest_offset);
//  2. every segment from the log start up to the map's end, grouped so that
//     a group's files stay under segment.bytes, is rewritten batch by batch
//     into `<base>.log.cleaned` (with `.index.cleaned`, `.timeindex.cleaned`
//     and `.txnindex.cleaned`), all fdatasync'd;
//  3. each group is handed to `swap` (the owning shard renames the files in,
//     see PartitionLog::swap_cleaned and storage/FORMAT.md); a refused swap
//     (the log changed meanwhile) ends the round and deletes what it wrote.
// Offsets never change: a rewritten batch keeps its base offset, last
// offset delta, producer id, epoch, base sequence and leader epoch, so that
// gaps appear but no record moves. A batch that loses every record is
// dropped, except (as an empty batch) the last batch of a producer still
// active and the last batch of the round, as in Kafka. Tombstones and
// markers of empty transactions get a delete horizon the first time they are
// cleaned (KIP-534: attributes bit 6, the base timestamp then holds
// now + delete.retention.ms and the records' timestamp deltas are rebased);
// a later round past the horizon drops them.
//
// Bytes read from the segments are checked like recovery does (length,
// magic, CRC-32C, codec, offsets) and the records parsed with bounds checks:
// anything wrong ends the round with an error and changes nothing.
//
// Thread-safety: a LogCleaner is used by one cleaner thread at a time. It
// reads only closed segment files (immutable until a swap or a deletion,
// which is noticed) and writes only `*.cleaned` files, so it needs no lock
// with the shard that owns the partition.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "storage/env.h"
#include "storage/io_throttler.h"
#include "storage/offset_map.h"
#include "storage/txn_index.h"

namespace runnel::storage {

// One closed segment as the plan saw it.
struct CleanerSegment {
  int64_t base_offset = 0;
  uint64_t size = 0;       // bytes of its .log
  int64_t end_offset = 0;  // the next segment's base offset
  bool operator==(const CleanerSegment&) const = default;
};

// What the cleaner needs to know of an active producer (Kafka's LastRecord):
// the last offset of its last data batch (-1: its last entry is a marker)
// and its epoch.
struct ActiveProducer {
  int64_t last_data_offset = -1;
  int16_t epoch = -1;
};

struct CleanPlan {
  std::filesystem::path dir;
  uint64_t log_id = 0;                   // PartitionLog::id() of the log planned
  std::vector<CleanerSegment> segments;  // every cleanable segment, from the log start's, ascending
  int64_t first_dirty = 0;               // below it, cleaned before
  int64_t first_uncleanable = 0;         // the last segment's end offset
  std::vector<AbortedTxn> aborted;       // aborted transactions starting below first_uncleanable, by first offset
  std::map<int64_t, ActiveProducer> producers;
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 86400000;
  int64_t max_group_bytes = 1 << 30;  // segment.bytes
  int32_t index_interval_bytes = 4096;
  int32_t compression_levels[5] = {0, -1, 0, 9, 3};  // per codec, for recompressed batches
  double dirty_ratio = 0;                            // dirty bytes / cleanable bytes (for choosing and logging)
  uint64_t dirty_bytes = 0;
};

// One group of segments cleaned into one, ready to be swapped in.
struct CleanedGroup {
  std::filesystem::path dir;
  uint64_t log_id = 0;
  std::vector<CleanerSegment> replaced;  // ascending; the new segment takes the first one's base
  uint64_t size = 0;                     // of the new .log
  std::vector<AbortedTxn> aborted;       // the new segment's aborted-transaction index
  int64_t end_offset() const { return replaced.back().end_offset; }
};

struct CleanStats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t records_read = 0;
  uint64_t records_retained = 0;
  uint64_t batches_dropped = 0;
  uint64_t groups_swapped = 0;
};

struct CleanResult {
  bool ok = false;  // false: nothing (more) was swapped; `error` says why
  std::string error;
  // Not worth retrying: the segments hold bytes that cannot be cleaned, or
  // the offset map cannot hold one batch's keys.
  bool permanent = false;
  int64_t cleaned_through = -1;  // the new first dirty offset (map end + 1) when ok
  // The earliest delete horizon now standing in the cleaned segments
  // (tombstones or markers a later round may drop), or INT64_MAX.
  int64_t next_horizon_ms = INT64_MAX;
  CleanStats stats;
};

// Names of a cleaned segment's files: `<stem><suffix>.cleaned`.
inline constexpr const char* kCleanedSuffix = ".cleaned";

class LogCleaner {
 public:
  // `swap` runs the swap of one group on the partition's shard: Swapped;
  // Refused when nothing was changed (the log moved on, the partition is
  // gone), and the cleaner deletes what it wrote; Failed when an I/O error
  // struck after the swap's commit point, which leaves the cleaned files to
  // the next open() (storage/FORMAT.md). `stop` (optional) aborts a round
  // between batches.
  enum class SwapOutcome { Swapped, Refused, Failed };
  using SwapFn = std::function<SwapOutcome(const CleanedGroup&)>;
  LogCleaner(Env* env, OffsetMap* map, IoThrottler* throttler = nullptr, const std::atomic<bool>* stop = nullptr)
      : env_(env), map_(map), throttler_(throttler), stop_(stop) {}

  CleanResult clean(const CleanPlan& plan, const SwapFn& swap);

 private:
  Env* env_;
  OffsetMap* map_;
  IoThrottler* throttler_;
  const std::atomic<bool>* stop_;
};

// The transaction bookkeeping of one pass over the log (Kafka's
// CleanedTransactionMetadata): which transactional batches belong to an
// aborted transaction, and which markers no data refers to any more.
class TxnCleanState {
 public:
  // `aborted` ascending by first offset.
  explicit TxnCleanState(std::vector<AbortedTxn> aborted) : pending_(std::move(aborted)) {}
  // A data batch: true when it belongs to an aborted transaction.
  bool on_data_batch(int64_t producer_id, bool transactional, int64_t last_offset);
  // A control batch (`batch`: its bytes): true when it may be dropped (its
  // transaction has no data left); an ABORT marker kept adds its
  // transaction to `kept_aborted`.
  bool on_control_batch(std::span<const uint8_t> batch, std::vector<AbortedTxn>* kept_aborted);

 private:
  void consume_up_to(int64_t offset);
  struct Ongoing {
    AbortedTxn txn;
    bool observed = false;  // a batch of it was seen (and dropped) in this pass
  };
  std::vector<AbortedTxn> pending_;
  size_t next_ = 0;
  std::map<int64_t, Ongoing> aborted_;  // by producer id
  std::map<int64_t, bool> committed_;   // producers with an open committed transaction seen
};

// Filters one batch (whole, already checked) into `out` (appended), the
// heart of the cleaner, exposed for tests and the fuzz target. Returns false
// when the records cannot be parsed (nothing appended then).
struct BatchFilterContext {
  const OffsetMap* map = nullptr;
  TxnCleanState* txns = nullptr;
  const std::map<int64_t, ActiveProducer>* producers = nullptr;
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 0;
  int64_t round_end = 0;  // the round's first uncleanable offset: the batch ending there is kept
  const int32_t* compression_levels = nullptr;
  std::vector<AbortedTxn>* kept_aborted = nullptr;
  // Outputs.
  int64_t next_horizon_ms = INT64_MAX;
  uint64_t records_read = 0;
  uint64_t records_retained = 0;
  std::vector<uint8_t> scratch;  // decompressed records
};
bool filter_batch(std::span<const uint8_t> batch, BatchFilterContext& ctx, std::vector<uint8_t>& out);

// Puts the keys of one (checked, not aborted, not control) batch into `map`
// for offsets >= `from`. False when the map filled up before the batch's
// last record (records before that were put) or the records cannot be parsed
// (`bad` set then).
bool map_batch(std::span<const uint8_t> batch, int64_t from, OffsetMap& map, std::vector<uint8_t>& scratch, bool& bad);

}  // namespace runnel::storage
