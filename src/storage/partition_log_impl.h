#pragma once
// PartitionLog's state, and what its parts share. Private to the files that
// implement PartitionLog: partition_log.cc (appends, reads, retention,
// syncs, close), partition_log_load.cc (open: loading and recovering the
// files; truncation) and partition_log_cleaning.cc (the log cleaner's plan
// and swap).
//
// Thread-safety: as PartitionLog's (one thread at a time).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "base/endian.h"
#include "protocol/compression.h"
#include "protocol/compressor.h"
#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/partition_log.h"
#include "storage/segment.h"
#include "storage/segment_swap.h"

namespace runnel::storage {

namespace partition_log_detail {
// Relative offsets in the index are u32; Kafka rolls at Int.MaxValue.
inline constexpr int64_t kMaxRelativeOffset = std::numeric_limits<int32_t>::max();
// Producer state snapshots kept besides the newest (each an older fallback
// should the newest be torn by a crash: they are written without a sync).
inline constexpr size_t kSnapshotsKept = 3;

// Each opened log's id (PartitionLog::id()).
inline std::atomic<uint64_t> next_log_id{1};

// Kafka's LogConfig.randomSegmentJitter: 0, or a random number of ms below
// min(segment.jitter.ms, segment.ms), drawn for each new segment.
inline int64_t random_segment_jitter(const LogConfig& config) {
  const int64_t bound = std::min(config.segment_jitter_ms, config.segment_ms);
  if (bound <= 0) return 0;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return static_cast<int64_t>(rng() % static_cast<uint64_t>(bound));
}

// The offset a "<20 digits>.snapshot" name stands for, or nullopt.
inline std::optional<int64_t> parse_snapshot_name(const std::string& name) {
  const std::string suffix = PartitionLog::kSnapshotSuffix;
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  int64_t value = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    if (value > (std::numeric_limits<int64_t>::max() - (name[i] - '0')) / 10) return std::nullopt;
    value = value * 10 + (name[i] - '0');
  }
  return value;
}
}  // namespace partition_log_detail

struct PartitionLog::Impl {
  uint64_t id = partition_log_detail::next_log_id.fetch_add(1);
  Env* env = nullptr;
  FileCache* files = nullptr;
  std::unique_ptr<FileCache> own_files;  // when open() was given no cache
  std::filesystem::path dir;
  LogConfig config;
  std::unique_ptr<LeaderEpochCache> epochs;
  std::vector<std::unique_ptr<Segment>> segments;  // ascending base offset; the last is active
  int64_t log_start = 0;
  int64_t flushed = 0;
  // Every segment below this base offset has its log and indexes synced.
  int64_t sealed_below = 0;
  // The directory entries of every segment whose base is <= this are durable.
  int64_t dir_synced_through = std::numeric_limits<int64_t>::max();
  // The partition directory's own entry in its parent is durable. False for
  // a directory found empty (a new partition): the first sync of the
  // directory syncs the parent too (sync_dir_and_name, sync_handles), so
  // that creating a partition costs no fsync but acknowledged data never
  // sits in a directory a power cut can take away.
  bool name_durable = true;
  // The recovery point is always the offset of a producer snapshot known
  // durable (the log end after a clean stop or a truncation, where one was
  // written durably), and every aborted-transaction entry of
  // a marker below it is durable: an unclean start replays from the newest
  // snapshot at or below it and trusts the .txnindex files below that
  // snapshot (load_producers).
  int64_t recovery_point_written = -1;
  // Snapshots written at rolls (their offsets) and not yet synced: the next
  // sync of the sealed segments carries them (sync_handles).
  std::vector<int64_t> unsynced_snapshots;
  // The offset of the newest snapshot known durable; -1: none.
  int64_t durable_snapshot = -1;
  // Segments whose .txnindex on disk lacks entries memory has (a write
  // failed): rewritten whole before the file is synced, and not appended to
  // meanwhile (an entry after a missing one would be trusted as complete).
  std::set<int64_t> stale_txn_indexes;
  // While open() loads: the offset below which the snapshots and .txnindex
  // files on disk are to be trusted (the recovery point after an unclean
  // stop); afterwards memory holds the truth and nothing is limited.
  int64_t trusted_below = std::numeric_limits<int64_t>::max();
  // How far the active segment's log (the one whose base offset is
  // cache_drop_base) has been offered to Env::drop_cache; sync_handles()
  // advances it when it asks for a drop (a failed sync only leaves pages
  // cached a little longer).
  int64_t cache_drop_base = -1;
  uint64_t cache_dropped_end = 0;
  // Set after a clean start while the previous run's clean-shutdown marker is
  // still on disk and still true: nothing has been changed since.
  std::optional<int64_t> standing_marker;
  bool closed = false;
  bool recovered = false;
  bool started_over = false;  // load() found the start past the end and began again, empty
  uint64_t truncated_bytes = 0;
  std::vector<protocol::BatchExtent> extents;  // scratch for append
  std::vector<uint8_t> inflated;               // scratch: a compressed batch's records, for validation
  std::vector<uint8_t> recompressed;           // scratch: a produce's batches in the topic's compression.type

  // Kafka's LogValidator for a topic whose compression.type is not
  // "producer": every batch in another codec is stored recompressed (its
  // records unchanged), and `batches` / `extents` then refer to the
  // rewritten copy. MESSAGE_TOO_LARGE when a batch grows past
  // max.message.bytes.
  ErrorCode recompress(std::span<uint8_t>& batches) {
    const int target = config.compression;
    bool needed = false;
    for (const auto& e : extents) {
      protocol::BatchView v(batches.subspan(e.position, e.size));
      needed |= !v.is_control() && v.compression_id() != target;
    }
    if (!needed) return ErrorCode::NONE;
    std::vector<uint8_t> out;
    out.reserve(batches.size());
    for (auto& e : extents) {
      auto batch = batches.subspan(e.position, e.size);
      protocol::BatchView v(batch);
      size_t position = out.size();
      if (v.is_control() || v.compression_id() == target) {
        out.insert(out.end(), batch.begin(), batch.end());
      } else {
        auto body = std::span<const uint8_t>(batch).subspan(protocol::kBatchHeaderSize);
        std::vector<uint8_t> records;
        if (v.compression_id() != 0) records = protocol::decompress(v.compression_id(), body);
        auto rewritten = protocol::recompress_batch(batch, v.compression_id() != 0 ? records : body, target,
                                                    config.compression_level());
        if (rewritten.size() > static_cast<size_t>(std::max(0, config.max_message_bytes)))
          return ErrorCode::MESSAGE_TOO_LARGE;
        out.insert(out.end(), rewritten.begin(), rewritten.end());
      }
      e.position = position;
      e.size = out.size() - position;
    }
    recompressed = std::move(out);
    batches = std::span<uint8_t>(recompressed);
    return ErrorCode::NONE;
  }
  ProducerStateTable producers;  // as of the log end
  // Aborted transactions by the base of the segment whose .txnindex holds
  // them (segments with none are absent), each in marker order.
  std::map<int64_t, std::vector<AbortedTxn>> aborted;
  // Transactions closed by a marker not yet below the high watermark
  // (Kafka's unreplicatedTxns), in marker order.
  std::deque<CompletedTxn> unstable;
  std::vector<uint8_t> batch_scratch;  // a control batch read back for replay
  // The log cleaner: the first offset not yet cleaned (-1: none cleaned),
  // the earliest delete horizon a cleaned segment holds (unknown after a
  // restart: the next round that dirt calls for drops what has expired),
  // and whether a swap failed past its commit point (no more rounds until
  // the next open() has completed it).
  int64_t cleaned_through = -1;
  int64_t next_horizon_ms = std::numeric_limits<int64_t>::max();
  bool swap_failed = false;
  // Lowers the cleaner's first dirty offset to `end` when the log was cut
  // below it (Kafka's maybeTruncateCheckpoint): data appended there again
  // is dirty.
  void cut_cleaned_through(int64_t end) {
    if (cleaned_through <= end) return;
    cleaned_through = end;
    (void)write_checkpoint(*env, file(kCleanerOffsetFile), cleaned_through);
  }

  Segment& active() { return *segments.back(); }
  const Segment& active() const { return *segments.back(); }
  int64_t end() const { return segments.back()->next_offset(); }
  std::filesystem::path file(const char* name) const { return dir / name; }
  std::filesystem::path log_path(int64_t base) const { return dir / (Segment::file_stem(base) + ".log"); }

  std::unique_ptr<Segment> try_new_segment(int64_t base, int* error) {
    const uint64_t reserve = config.preallocate ? static_cast<uint64_t>(config.segment_bytes) : 0;
    auto s = Segment::create(files, dir, base, config.index_interval_bytes, error, reserve);
    if (!s) return nullptr;
    s->roll_jitter_ms = partition_log_detail::random_segment_jitter(config);
    // The new name must survive a crash before anything in it is called
    // durable: the next sync request carries the directory (sync_handles),
    // rather than an fsync here, on the shard, at every roll and creation.
    dir_synced_through = std::min(dir_synced_through, base - 1);
    return s;
  }
  std::unique_ptr<Segment> new_segment(int64_t base) {
    int error = 0;
    auto s = try_new_segment(base, &error);
    if (!s) throw std::runtime_error("cannot create segment in " + dir.string() + ": " + std::strerror(error));
    return s;
  }

  // Called before the first change to the partition's files after a clean
  // start. The previous run's clean-shutdown marker stops being true; since
  // everything up to its offset was synced at that stop, it becomes the
  // recovery point (a clean shutdown wrote that already; one by an older
  // runnel did not), and the marker is cleared, both in place and durably, so
  // a crash from here on is seen as unclean and scans only what came after.
  // Deferring this from start-up to the first change saves a sync per
  // partition at start and lets close() skip partitions never written.
  [[nodiscard]] bool touch() {
    if (!standing_marker) return true;
    if (recovery_point_written != *standing_marker && !write_recovery_point(*standing_marker)) return false;
    if (!clear_checkpoint(*env, file(kCleanShutdownFile))) return false;
    standing_marker.reset();
    return true;
  }

  // Seals the active segment and starts a new one; false (nothing changed but
  // the seal) when the new segment cannot be created.
  [[nodiscard]] bool roll(int* error = nullptr) {
    if (!touch()) return false;
    active().seal();
    int ignored = 0;
    auto s = try_new_segment(end(), error ? error : &ignored);
    if (!s) return false;
    segments.push_back(std::move(s));
    // Synced with the sealed segment and its .txnindex (sync_handles): the
    // recovery point moves here only once all three are durable.
    if (write_snapshot(/*durable=*/false)) unsynced_snapshots.push_back(end());
    return true;
  }

  bool should_roll(uint64_t incoming, int64_t last_offset, int64_t now_ms) {
    Segment& a = active();
    if (a.empty()) return false;
    return a.size() + incoming > static_cast<uint64_t>(config.segment_bytes) ||
           a.size() + incoming > std::numeric_limits<uint32_t>::max() ||
           last_offset - a.base_offset() > partition_log_detail::kMaxRelativeOffset || rolls_by_time(now_ms) ||
           a.index_full(config.segment_index_bytes);
  }
  // segment.ms less the active segment's jitter has passed since its first append.
  bool rolls_by_time(int64_t now_ms) const {
    const Segment& a = active();
    return !a.empty() && a.first_append_ms >= 0 && now_ms - a.first_append_ms >= config.segment_ms - a.roll_jitter_ms;
  }

  // Segment files renamed `.deleted` (file.delete.delay.ms) and when each
  // group goes; the latest time the log was told (append, retention check).
  std::deque<std::pair<int64_t, std::vector<std::filesystem::path>>> deleted_files;
  int64_t last_now_ms = 0;
  void retire_segment(Segment& seg) {
    if (config.file_delete_delay_ms <= 0) {
      remove_segment(seg);
      return;
    }
    std::vector<std::filesystem::path> renamed;
    seg.rename_deleted(renamed);
    forget_txn_index(seg.base_offset());
    auto txn = txn_index_path(seg.base_offset());
    auto txn_deleted = txn;
    txn_deleted += Segment::kDeletedSuffix;
    if (env->exists(txn) && env->rename(txn, txn_deleted)) renamed.push_back(txn_deleted);
    (void)env->remove(txn);  // left only if the rename failed: open() drops an index without its log
    deleted_files.emplace_back(last_now_ms + config.file_delete_delay_ms, std::move(renamed));
  }
  // Removes the `.deleted` files whose delay has passed.
  void remove_deleted_files(int64_t now_ms) {
    while (!deleted_files.empty() && deleted_files.front().first <= now_ms) {
      // What cannot be removed now the next open() removes (.deleted).
      for (const auto& path : deleted_files.front().second) (void)env->remove(path);
      deleted_files.pop_front();
    }
  }

  [[nodiscard]] bool delete_front() {
    if (!touch()) return false;
    retire_segment(*segments.front());
    segments.erase(segments.begin());
    log_start = std::max(log_start, segments.front()->base_offset());
    // A failed write leaves an entry below the start on disk, which the next
    // open() trims (truncate_from_start): harmless meanwhile.
    (void)epochs->truncate_from_start(Offset(log_start));
    trim_snapshots();
    return true;
  }

  // Every (epoch, first offset) in the batch headers of `segs`, in log order.
  static void scan_epochs(const std::vector<Segment*>& segs, EpochList& out) {
    for (Segment* seg : segs)
      for (auto h = seg->read_header(0); h; h = seg->read_header(h->position + h->size))
        out.assign(LeaderEpoch(h->leader_epoch), Offset(h->base_offset));
  }
  void load_epochs();
  [[nodiscard]] bool truncate_to(int64_t target);

  // The segment that holds `offset`: the last one whose base is <= it.
  size_t segment_for(int64_t offset) const {
    auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                               [](int64_t o, const auto& s) { return o < s->base_offset(); });
    return it == segments.begin() ? 0 : static_cast<size_t>(it - segments.begin()) - 1;
  }

  // Written once the flushed offset enters the active segment: from then on
  // recovery need only scan from the active segment, and replays the
  // producer state from the snapshot at its base, which must be durable,
  // as must every sealed segment's .txnindex (synced with the segment).
  void maybe_write_recovery_point() {
    if (standing_marker) return;  // the marker, once touched, becomes the recovery point
    const int64_t base = active().base_offset();
    if (flushed >= base && sealed_below >= base && dir_synced_through >= base && durable_snapshot == base &&
        recovery_point_written < base) {
      (void)write_recovery_point(base);
    }
  }

  // Writes the recovery point (in place, see FORMAT.md) and remembers it
  // once written; `durable` false leaves the sync to the caller's syncfs.
  [[nodiscard]] bool write_recovery_point(int64_t offset, bool durable = true) {
    if (!overwrite_checkpoint(*env, file(kRecoveryPointFile), offset, durable)) return false;
    recovery_point_written = offset;
    return true;
  }

  // With page_cache_tail_bytes: how far the active segment's log may leave
  // the page cache once this sync is done, if it moved far enough since the
  // last drop (every quarter of a tail, at least 1 MiB: one fadvise per sync
  // would cost more than it frees at small appends).
  std::optional<uint64_t> cache_drop_end(const Segment& active_segment) {
    const auto tail = static_cast<uint64_t>(config.page_cache_tail_bytes);
    if (cache_drop_base != active_segment.base_offset()) {
      cache_drop_base = active_segment.base_offset();
      cache_dropped_end = 0;
    }
    const uint64_t step = std::max<uint64_t>(tail / 4, 1 << 20);
    if (active_segment.size() < tail + cache_dropped_end + step) return std::nullopt;
    cache_dropped_end = active_segment.size() - tail;
    return cache_dropped_end;
  }

  // Drops the dirty pins that a completed sync covered.
  void release_pins() {
    for (auto& seg : segments) {
      if (seg.get() == &active()) {
        if (flushed >= end()) seg->release_pin();
      } else if (seg->base_offset() < sealed_below) {
        seg->release_pin();
      }
    }
  }

  void load(int64_t now_ms);

  // Producer state (storage/producer_state.h).
  std::filesystem::path snapshot_path(int64_t offset) const {
    return dir / (Segment::file_stem(offset) + kSnapshotSuffix);
  }
  std::map<int64_t, std::string> list_snapshots() const {
    std::map<int64_t, std::string> out;
    for (auto& name : env->list(dir))
      if (auto offset = partition_log_detail::parse_snapshot_name(name)) out[*offset] = name;
    return out;
  }
  void record_header(const BatchHeader& h, const Segment& seg) {
    if (h.producer_id < 0) return;
    if (h.control) {
      if (!seg.read_batch(h, batch_scratch)) return;
      record_marker(batch_scratch, seg.base_offset());
      return;
    }
    producers.record(h.producer_id, h.producer_epoch, h.base_sequence,
                     last_sequence(h.base_sequence, static_cast<int32_t>(h.last_offset - h.base_offset)), h.base_offset,
                     h.last_offset, h.max_timestamp, h.transactional);
  }
  // `segment_base`: the segment the batch went to (its .txnindex).
  void record_batch(std::span<const uint8_t> batch, int64_t segment_base) {
    protocol::BatchView v(batch);
    if (v.producer_id() < 0) return;
    if (v.is_control()) {
      record_marker(batch, segment_base);
      return;
    }
    producers.record(v.producer_id(), v.producer_epoch(), v.base_sequence(),
                     last_sequence(v.base_sequence(), v.last_offset_delta()), v.base_offset(), v.last_offset(),
                     v.max_timestamp(), v.is_transactional());
  }
  // A control batch in the log: a transaction marker closes its producer's
  // transaction (other control records change nothing).
  void record_marker(std::span<const uint8_t> batch, int64_t segment_base) {
    auto marker = protocol::parse_txn_marker(batch);
    if (!marker) return;
    protocol::BatchView v(batch);
    auto txn = producers.complete(v.producer_id(), v.producer_epoch(), marker->coordinator_epoch, marker->commit,
                                  v.base_offset(), v.max_timestamp());
    if (!txn) return;
    unstable.push_back(*txn);
    if (!txn->aborted) return;
    // Kafka's lastStableOffset(completedTxn): where the LSO stands once this
    // transaction is closed, counting the transactions still open.
    int64_t first_open = producers.first_ongoing_offset();
    AbortedTxn entry{txn->producer_id, txn->first_offset, txn->last_offset,
                     first_open >= 0 ? first_open : txn->last_offset + 1};
    aborted[segment_base].push_back(entry);
    append_txn_index(segment_base, entry);
  }

  // Aborted-transaction index files (txn_index.h).
  std::filesystem::path txn_index_path(int64_t base) const {
    return dir / (Segment::file_stem(base) + kTxnIndexSuffix);
  }
  // Appended without a sync: a sealed segment's file is synced with the
  // segment (sync_handles) and the active one's at close; after an unclean
  // stop the entries from the replay start on are rebuilt (load_producers).
  // A failed write leaves the file stale, rewritten before its sync.
  void append_txn_index(int64_t base, const AbortedTxn& entry) {
    if (stale_txn_indexes.contains(base)) return;
    auto file = env->open(txn_index_path(base), /*create=*/true);
    int64_t size = file ? env->size(*file) : -1;
    // A torn entry at the end (a crash mid-append) is overwritten.
    if (size < 0 || !env->pwrite(*file, static_cast<uint64_t>(size) / kAbortedTxnSize * kAbortedTxnSize,
                                 encode_aborted_txns(std::span(&entry, 1))))
      stale_txn_indexes.insert(base);
  }
  // fsync of the partition's directory, and of its parent while the
  // directory's own name is not durable (name_durable).
  [[nodiscard]] bool sync_dir_and_name() {
    if (!env->sync_dir(dir)) return false;
    if (!name_durable) name_durable = env->sync_dir(dir.parent_path());
    return name_durable;
  }
  // The file (a stale one rewritten from memory, durably); its directory
  // entry is the caller's to sync.
  [[nodiscard]] bool sync_txn_index_file(int64_t base) {
    if (!aborted.contains(base)) return true;
    if (stale_txn_indexes.contains(base)) return rewrite_txn_index(base);
    auto file = env->open(txn_index_path(base), /*create=*/false);
    return file && env->sync(*file);
  }
  // The file and its directory entry (it may be younger than the last
  // directory sync of its segment).
  [[nodiscard]] bool sync_txn_index(int64_t base) { return sync_txn_index_file(base) && sync_dir_and_name(); }
  // The files the flusher syncs for a sealed segment's index (none when it
  // has no entries; a null handle, which fails the sync, when a stale file
  // cannot be rewritten).
  void add_txn_index_sync(int64_t base, std::vector<std::shared_ptr<const FileHandle>>& files) {
    if (!aborted.contains(base)) return;
    if (stale_txn_indexes.contains(base)) {
      // Rare (a write failed): the rewrite syncs on this thread.
      if (!rewrite_txn_index(base)) files.push_back(nullptr);
      return;
    }
    files.push_back(env->open(txn_index_path(base), /*create=*/false));
  }
  // Every index of the segments from the one holding `offset` on, and the
  // directory (an index emptied by a drop was removed).
  [[nodiscard]] bool sync_txn_indexes_from(int64_t offset) {
    const int64_t first = segments[segment_for(offset)]->base_offset();
    bool ok = true;
    for (const auto& [base, _] : aborted)
      if (base >= first) ok = sync_txn_index_file(base) && ok;
    return sync_dir_and_name() && ok;
  }
  // Rewrites (or removes, when empty) one segment's index from memory,
  // durably: the entries it keeps are trusted after a crash.
  [[nodiscard]] bool rewrite_txn_index(int64_t base) {
    auto it = aborted.find(base);
    if (it == aborted.end() || it->second.empty()) {
      if (it != aborted.end()) aborted.erase(it);
      stale_txn_indexes.erase(base);
      // A stale file left here would be read back at the next open().
      if (env->exists(txn_index_path(base)) && !env->remove(txn_index_path(base))) {
        stale_txn_indexes.insert(base);
        return false;
      }
      return true;
    }
    if (!env->write_file_atomic(txn_index_path(base), encode_aborted_txns(it->second), /*durable=*/true)) {
      stale_txn_indexes.insert(base);
      return false;
    }
    stale_txn_indexes.erase(base);
    return true;
  }
  // Forgets a segment's aborted transactions (its index file is the caller's).
  void forget_txn_index(int64_t base) {
    aborted.erase(base);
    stale_txn_indexes.erase(base);
  }
  // A segment going away takes its aborted-transaction index with it.
  void remove_segment(Segment& seg) {
    seg.remove();
    forget_txn_index(seg.base_offset());
    (void)env->remove(txn_index_path(seg.base_offset()));  // open() drops an index without its log
  }
  // Reads the index of every segment (open()); one without its segment is
  // left over from a deletion cut short.
  void load_txn_indexes(const std::vector<std::string>& names) {
    aborted.clear();
    for (const auto& name : names) {
      if (!name.ends_with(kTxnIndexSuffix)) continue;
      auto base = Segment::parse_log_name(name.substr(0, name.size() - std::strlen(kTxnIndexSuffix)) + ".log");
      if (!base) continue;
      bool known =
          std::any_of(segments.begin(), segments.end(), [&](const auto& seg) { return seg->base_offset() == *base; });
      if (!known) {
        (void)env->remove(dir / name);  // the next open() tries again
        continue;
      }
      std::vector<uint8_t> bytes;
      if (!env->read_file(dir / name, bytes)) continue;
      bool clean = true;
      auto entries = decode_aborted_txns(bytes, &clean);
      if (!entries.empty()) aborted[*base] = std::move(entries);
      if (!clean) (void)rewrite_txn_index(*base);  // a failure leaves it stale
    }
  }
  // Forgets every transaction whose marker is at or past `offset` (the
  // replay from there brings them back), and the unstable ones too.
  void drop_txns_from(int64_t offset) {
    unstable.clear();
    std::vector<int64_t> changed;
    for (auto& [base, entries] : aborted) {
      auto keep = std::partition_point(entries.begin(), entries.end(),
                                       [offset](const AbortedTxn& e) { return e.last_offset < offset; });
      if (keep == entries.end()) continue;
      entries.erase(keep, entries.end());
      changed.push_back(base);
    }
    for (int64_t base : changed) (void)rewrite_txn_index(base);  // a failure leaves it stale
  }

  // Every batch header from `from` to the log end into the table.
  void replay_producers(int64_t from) {
    if (from >= end()) return;
    for (size_t i = segment_for(from); i < segments.size(); ++i) {
      Segment& seg = *segments[i];
      auto h = seg.base_offset() < from ? seg.find(from) : seg.read_header(0);
      for (; h; h = seg.read_header(h->position + h->size)) record_header(*h, seg);
    }
  }
  // The table as of the log end, and the aborted-transaction entries from
  // the replay start on: the newest snapshot not past the end (any past it
  // are stale, left by a truncation) nor past trusted_below (after an
  // unclean stop, entries above the recovery point may have been lost with
  // the page cache) and the batches after it. With no usable snapshot the
  // whole log is replayed, as Kafka does after a crash; only a clean start
  // (`shortcut`) replays just the last two segments, as Kafka does for a log
  // from before snapshots: a producer older than that is unknown, which
  // KIP-360 allows. Returns the replay start.
  int64_t load_producers(bool shortcut) {
    producers.clear();
    auto snaps = list_snapshots();
    std::erase_if(unsynced_snapshots, [this](int64_t o) { return o > end(); });
    if (durable_snapshot > end()) durable_snapshot = -1;
    std::optional<int64_t> from;
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      if (it->first > end()) {
        (void)env->remove(dir / it->second);  // never read (above the end): the next load tries again
        continue;
      }
      if (it->first > trusted_below) continue;
      std::vector<uint8_t> bytes;
      std::optional<ProducerStateTable> table;
      if (env->read_file(dir / it->second, bytes)) table = ProducerStateTable::decode(bytes);
      if (!table) {
        (void)env->remove(dir / it->second);  // unreadable: skipped whether removed or not
        continue;
      }
      producers = std::move(*table);
      from = it->first;
      break;
    }
    bool found = from.has_value();
    if (!from) {
      from = shortcut ? segments[segments.size() >= 2 ? segments.size() - 2 : 0]->base_offset() : log_start;
    }
    const int64_t start = std::max(*from, log_start);
    // The aborted-transaction index of the replayed part is rebuilt by the replay.
    drop_txns_from(start);
    replay_producers(start);
    // A log from before snapshots existed, left unchanged, would otherwise
    // be scanned again at every start (its close writes nothing).
    if (!found && shortcut && end() > log_start) (void)write_snapshot(/*durable=*/false);
    return start;
  }
  // Written at the log end; `durable` false leaves the sync to the flusher
  // (a roll's: sync_handles), to a later syncfs (shutdown) or to nobody (a
  // torn file fails its CRC and an older snapshot is used instead). With
  // `trim` false the snapshots it would retire stay until the next write.
  [[nodiscard]] bool write_snapshot(bool durable, bool trim = true) {
    // The snapshot the recovery point names (the same state: as of the same
    // offset) is durable and kept: replaced by one that is not, a crash
    // before the sync would leave the recovery point naming a torn file (a
    // roll right where a clean stop or a truncation wrote it).
    const bool kept = !durable && end() == recovery_point_written && env->exists(snapshot_path(end()));
    bool ok = kept || env->write_file_atomic(snapshot_path(end()), producers.encode(), durable);
    if (ok && (durable || kept)) durable_snapshot = end();
    if (trim) trim_snapshots();
    return ok;
  }
  // Keeps the newest snapshot, the newest at or below the recovery point
  // (where an unclean start replays from), and up to kSnapshotsKept more at
  // or above the first segment's base.
  void trim_snapshots() {
    auto snaps = list_snapshots();
    const int64_t recovery_point = standing_marker ? *standing_marker : recovery_point_written;
    bool recovery_kept = false;
    size_t kept = 0;
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      const bool for_recovery = !recovery_kept && it->first <= recovery_point;
      recovery_kept |= for_recovery;
      if (kept == 0 || (kept <= partition_log_detail::kSnapshotsKept && it->first >= segments.front()->base_offset())) {
        ++kept;
        continue;
      }
      if (for_recovery) continue;
      (void)env->remove(dir / it->second);  // an extra old snapshot costs only space
    }
  }
};

}  // namespace runnel::storage
