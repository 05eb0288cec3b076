#include "storage/partition_log.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>

#include "base/endian.h"
#include "protocol/compression.h"
#include "protocol/compressor.h"
#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/segment.h"
#include "storage/segment_swap.h"

namespace runnel::storage {

namespace {
// Relative offsets in the index are u32; Kafka rolls at Int.MaxValue.
constexpr int64_t kMaxRelativeOffset = std::numeric_limits<int32_t>::max();
// Producer state snapshots kept besides the newest (each an older fallback
// should the newest be torn by a crash: they are written without a sync).
constexpr size_t kSnapshotsKept = 3;

std::atomic<uint64_t> next_log_id{1};

// Kafka's LogConfig.randomSegmentJitter: 0, or a random number of ms below
// min(segment.jitter.ms, segment.ms), drawn for each new segment.
int64_t random_segment_jitter(const LogConfig& config) {
  const int64_t bound = std::min(config.segment_jitter_ms, config.segment_ms);
  if (bound <= 0) return 0;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return static_cast<int64_t>(rng() % static_cast<uint64_t>(bound));
}

// The offset a "<20 digits>.snapshot" name stands for, or nullopt.
std::optional<int64_t> parse_snapshot_name(const std::string& name) {
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
}  // namespace

struct PartitionLog::Impl {
  uint64_t id = next_log_id.fetch_add(1);
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
  int64_t recovery_point_written = -1;
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
    s->roll_jitter_ms = random_segment_jitter(config);
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
  // recovery point (a rename, made durable), so a crash from here on is seen
  // as unclean and scans only what came after. Deferring this from start-up
  // to the first change saves one directory fsync per partition at start and
  // lets close() skip partitions that were never written.
  bool touch() {
    if (!standing_marker) return true;
    bool renamed = env->rename(file(kCleanShutdownFile), file(kRecoveryPointFile));
    if (!renamed) env->remove(file(kCleanShutdownFile));
    if (!env->sync_dir(dir) || env->exists(file(kCleanShutdownFile))) return false;
    if (renamed) recovery_point_written = *standing_marker;
    standing_marker.reset();
    return true;
  }

  // Seals the active segment and starts a new one; false (nothing changed but
  // the seal) when the new segment cannot be created.
  bool roll(int* error = nullptr) {
    if (!touch()) return false;
    active().seal();
    // Its aborted transactions are durable before the snapshot below names
    // a replay start past them.
    (void)sync_txn_index(active().base_offset());
    int ignored = 0;
    auto s = try_new_segment(end(), error ? error : &ignored);
    if (!s) return false;
    segments.push_back(std::move(s));
    write_snapshot(/*durable=*/false);
    return true;
  }

  bool should_roll(uint64_t incoming, int64_t last_offset, int64_t now_ms) {
    Segment& a = active();
    if (a.empty()) return false;
    return a.size() + incoming > static_cast<uint64_t>(config.segment_bytes) ||
           a.size() + incoming > std::numeric_limits<uint32_t>::max() ||
           last_offset - a.base_offset() > kMaxRelativeOffset || rolls_by_time(now_ms) ||
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
    aborted.erase(seg.base_offset());
    auto txn = txn_index_path(seg.base_offset());
    auto txn_deleted = txn;
    txn_deleted += Segment::kDeletedSuffix;
    if (env->exists(txn) && env->rename(txn, txn_deleted)) renamed.push_back(txn_deleted);
    env->remove(txn);
    deleted_files.emplace_back(last_now_ms + config.file_delete_delay_ms, std::move(renamed));
  }
  // Removes the `.deleted` files whose delay has passed.
  void remove_deleted_files(int64_t now_ms) {
    while (!deleted_files.empty() && deleted_files.front().first <= now_ms) {
      for (const auto& path : deleted_files.front().second) env->remove(path);
      deleted_files.pop_front();
    }
  }

  bool delete_front() {
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
  bool truncate_to(int64_t target);

  // The segment that holds `offset`: the last one whose base is <= it.
  size_t segment_for(int64_t offset) const {
    auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                               [](int64_t o, const auto& s) { return o < s->base_offset(); });
    return it == segments.begin() ? 0 : static_cast<size_t>(it - segments.begin()) - 1;
  }

  // Written once the flushed offset enters the active segment: from then on
  // recovery need only scan from the active segment.
  void maybe_write_recovery_point() {
    if (standing_marker) return;  // the marker, once touched, becomes the recovery point
    if (flushed >= active().base_offset() && sealed_below >= active().base_offset() &&
        dir_synced_through >= active().base_offset() && recovery_point_written < active().base_offset()) {
      if (write_checkpoint(*env, file(kRecoveryPointFile), flushed)) recovery_point_written = flushed;
    }
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
      if (auto offset = parse_snapshot_name(name)) out[*offset] = name;
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
  // Appended without a sync: a sealed segment's file is synced at roll and
  // the active one's at close; after an unclean stop the entries of the
  // replayed tail are rebuilt (load_producers).
  void append_txn_index(int64_t base, const AbortedTxn& entry) {
    auto file = env->open(txn_index_path(base), /*create=*/true);
    if (!file) return;
    int64_t size = env->size(*file);
    if (size < 0) return;
    // A torn entry at the end (a crash mid-append) is overwritten.
    uint64_t position = static_cast<uint64_t>(size) / kAbortedTxnSize * kAbortedTxnSize;
    (void)env->pwrite(*file, position, encode_aborted_txns(std::span(&entry, 1)));
  }
  // The file and its directory entry (it may be younger than the last
  // directory sync of its segment).
  bool sync_txn_index(int64_t base) {
    if (!aborted.contains(base)) return true;
    auto file = env->open(txn_index_path(base), /*create=*/false);
    return file && env->sync(*file) && env->sync_dir(dir);
  }
  // Rewrites (or removes, when empty) one segment's index from memory.
  void rewrite_txn_index(int64_t base) {
    auto it = aborted.find(base);
    if (it == aborted.end() || it->second.empty()) {
      if (it != aborted.end()) aborted.erase(it);
      if (env->exists(txn_index_path(base))) env->remove(txn_index_path(base));
      return;
    }
    (void)env->write_file_atomic(txn_index_path(base), encode_aborted_txns(it->second), /*durable=*/false);
  }
  // A segment going away takes its aborted-transaction index with it.
  void remove_segment(Segment& seg) {
    seg.remove();
    aborted.erase(seg.base_offset());
    env->remove(txn_index_path(seg.base_offset()));
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
        env->remove(dir / name);
        continue;
      }
      std::vector<uint8_t> bytes;
      if (!env->read_file(dir / name, bytes)) continue;
      bool clean = true;
      auto entries = decode_aborted_txns(bytes, &clean);
      if (!entries.empty()) aborted[*base] = std::move(entries);
      if (!clean) rewrite_txn_index(*base);
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
    for (int64_t base : changed) rewrite_txn_index(base);
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
  // The table as of the log end: the newest snapshot not past the end (any
  // past it are stale, left by a truncation) and the batches after it. With
  // no usable snapshot the last two segments are replayed (Kafka does the
  // same); a producer older than that is unknown, which KIP-360 allows.
  void load_producers() {
    producers.clear();
    auto snaps = list_snapshots();
    std::optional<int64_t> from;
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      if (it->first > end()) {
        env->remove(dir / it->second);
        continue;
      }
      std::vector<uint8_t> bytes;
      std::optional<ProducerStateTable> table;
      if (env->read_file(dir / it->second, bytes)) table = ProducerStateTable::decode(bytes);
      if (!table) {
        env->remove(dir / it->second);
        continue;
      }
      producers = std::move(*table);
      from = it->first;
      break;
    }
    bool found = from.has_value();
    if (!from) from = segments[segments.size() >= 2 ? segments.size() - 2 : 0]->base_offset();
    // The aborted-transaction index of the replayed part is rebuilt by the replay.
    drop_txns_from(std::max(*from, log_start));
    replay_producers(std::max(*from, log_start));
    // A log from before snapshots existed, left unchanged, would otherwise
    // be scanned again at every start (its close writes nothing).
    if (!found && end() > log_start) write_snapshot(/*durable=*/false);
  }
  // Written at the log end; `durable` false leaves the sync to a later
  // syncfs (shutdown) or to nobody (a roll: a torn file fails its CRC and an
  // older snapshot is used instead).
  void write_snapshot(bool durable) {
    (void)env->write_file_atomic(snapshot_path(end()), producers.encode(), durable);
    trim_snapshots();
  }
  // Keeps the newest snapshot, and up to kSnapshotsKept more at or above the
  // first segment's base.
  void trim_snapshots() {
    auto snaps = list_snapshots();
    size_t kept = 0;
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      if (kept == 0 || (kept <= kSnapshotsKept && it->first >= segments.front()->base_offset())) {
        ++kept;
        continue;
      }
      env->remove(dir / it->second);
    }
  }
};

// The epoch cache is made to agree with the log after the segments are
// loaded: entries past the end (a torn tail cut by recovery, or a cache
// written ahead of an append that never landed) or below the start go; a
// missing or undecodable file is rebuilt from every batch header; after an
// unclean stop the recovered segments' headers are replayed into it too, so
// that no epoch the log holds is missing from the cache.
void PartitionLog::Impl::load_epochs() {
  bool existed = env->exists(epochs->path());
  bool ok = true;
  if (!epochs->load()) {
    EpochList rebuilt;
    std::vector<Segment*> all;
    for (auto& seg : segments) all.push_back(seg.get());
    scan_epochs(all, rebuilt);
    rebuilt.truncate_from_start(Offset(log_start));
    if (existed || !rebuilt.entries().empty()) ok = epochs->reset(rebuilt.entries());
  } else {
    ok = epochs->truncate_from_end(Offset(end())) && epochs->truncate_from_start(Offset(log_start));
    if (recovered) {
      EpochList merged(epochs->entries());
      std::vector<Segment*> scanned;
      for (auto& seg : segments)
        if (seg->loaded()) scanned.push_back(seg.get());
      scan_epochs(scanned, merged);
      if (merged.entries() != epochs->entries()) ok = ok && epochs->reset(merged.entries());
    }
  }
  // A log begun again at its start holds none of the epochs it had (as
  // truncate_fully_and_start_at leaves it): naming one as the last fetched
  // epoch would make the leader answer with a divergence below the start.
  if (started_over && !epochs->entries().empty()) ok = ok && epochs->reset({});
  if (!ok) throw std::runtime_error("cannot write " + epochs->path().string() + ": " + std::strerror(errno));
}

void PartitionLog::Impl::load(int64_t now_ms) {
  if (!env->create_dirs(dir)) throw std::runtime_error("cannot create " + dir.string());
  // A compaction swap the previous run committed but did not finish is
  // completed, one it did not commit undone, before the segments are listed.
  if (!recover_swaps(*env, files, dir))
    throw std::runtime_error("cannot complete a compaction swap in " + dir.string() + ": " + std::strerror(errno));
  cleaned_through = read_checkpoint(*env, file(kCleanerOffsetFile)).value_or(-1);
  // Empty until load_epochs(): segments deleted below the log start before
  // then change nothing in it (load_epochs trims the start itself).
  epochs = std::make_unique<LeaderEpochCache>(env, dir);
  std::map<int64_t, bool> bases;  // base offset of every .log file
  auto names = env->list(dir);
  // A new partition (or one whose files are all gone): nothing to recover
  // and nothing to make durable. Its first segment's files and directory
  // entry are synced with its first data (dir_synced_through), so creating
  // a partition costs no fsync on the shard (it had six: bench/README.md,
  // "Creating partitions").
  const bool empty_dir = names.empty();
  for (const auto& name : names) {
    if (name.ends_with(".tmp") || name.ends_with(Segment::kDeletedSuffix)) {
      // (.deleted: a segment retired by the previous run, file.delete.delay.ms)
      env->remove(dir / name);
    } else if (auto base = Segment::parse_log_name(name)) {
      bases[*base] = true;
    }
  }
  for (const auto& name : names) {
    // An index without its log is left over from a deletion cut short.
    auto stem = name.substr(0, name.find('.'));
    bool index = name.ends_with(".index") || name.ends_with(".timeindex");
    if (index && Segment::parse_log_name(stem + ".log") && !bases.contains(*Segment::parse_log_name(stem + ".log")))
      env->remove(dir / name);
  }

  auto marker = read_checkpoint(*env, file(kCleanShutdownFile));
  int64_t start_checkpoint = read_checkpoint(*env, file(kLogStartOffsetFile)).value_or(0);
  auto recovery_checkpoint = read_checkpoint(*env, file(kRecoveryPointFile));
  int64_t recovery_point = recovery_checkpoint.value_or(0);
  constexpr int64_t kClean = std::numeric_limits<int64_t>::max();

  // Nothing is opened but the segments that must be read: after a clean stop
  // only the active one (its tail is checked against the marker); after an
  // unclean one those at or past the recovery point. The others are opened
  // lazily, on first need.
  auto open_all = [&](int64_t scan_from) {
    segments.clear();
    truncated_bytes = 0;
    std::vector<int64_t> list;
    for (auto& [base, _] : bases) list.push_back(base);
    for (size_t i = 0; i < list.size(); ++i) {
      // A segment wholly below the recovery point was synced: trust it.
      bool trusted = i + 1 < list.size() && list[i + 1] <= scan_from;
      if (trusted) {
        int64_t size = env->file_size(log_path(list[i]));
        if (size < 0) throw std::runtime_error("cannot stat segment in " + dir.string());
        segments.push_back(Segment::open_sealed(files, dir, list[i], config.index_interval_bytes, list[i + 1],
                                                static_cast<uint64_t>(size)));
        continue;
      }
      auto seg = Segment::open(files, dir, list[i], config.index_interval_bytes);
      bool cut = false;
      if (scan_from == kClean) {
        if (!seg->load()) return false;  // clean start failed: recover
      } else {
        uint64_t before = static_cast<uint64_t>(std::max<int64_t>(0, env->file_size(log_path(list[i]))));
        if (!seg->recover(cut)) throw std::runtime_error("I/O error recovering " + dir.string());
        truncated_bytes += before - seg->size();
      }
      // Offsets must continue where the previous segment ended; anything
      // after a cut or a gap was never acknowledged as durable.
      bool continues = segments.empty() || seg->base_offset() == segments.back()->next_offset();
      if (!continues) {
        for (size_t j = i; j < list.size(); ++j) {
          Segment::open(files, dir, list[j], config.index_interval_bytes)->remove();
          bases.erase(list[j]);
        }
        break;
      }
      segments.push_back(std::move(seg));
      if (cut) {
        for (size_t j = i + 1; j < list.size(); ++j) {
          truncated_bytes += static_cast<uint64_t>(std::max<int64_t>(0, env->file_size(log_path(list[j]))));
          Segment::open(files, dir, list[j], config.index_interval_bytes)->remove();
          bases.erase(list[j]);
        }
        break;
      }
    }
    return true;
  };

  bool clean = marker.has_value() && open_all(kClean) && (segments.empty() || end() == *marker);
  if (clean) {
    standing_marker = marker;
  } else if (!empty_dir) {
    recovered = true;
    if (env->exists(file(kCleanShutdownFile))) {
      // Removed before recovery changes anything, durably: a crash from here
      // on must be seen as unclean by the next start.
      env->remove(file(kCleanShutdownFile));
      env->sync_dir(dir);
    }
    open_all(recovery_point);
  }

  if (segments.empty()) {
    if (!touch()) throw std::runtime_error("cannot remove the clean-shutdown marker in " + dir.string());
    segments.push_back(new_segment(start_checkpoint));
  }
  log_start = std::max(start_checkpoint, segments.front()->base_offset());
  if (log_start > end()) {
    // Data the log start had moved past is gone: begin again, empty, at the start.
    if (!touch()) throw std::runtime_error("cannot remove the clean-shutdown marker in " + dir.string());
    for (auto& s : segments) remove_segment(*s);
    segments.clear();
    segments.push_back(new_segment(log_start));
    started_over = true;
  }
  while (segments.size() > 1 && segments.front()->next_offset() <= log_start && delete_front()) {
  }

  if (recovered) {
    // What survived a crash may sit only in the page cache: make it durable
    // so that flushed_offset() can start at the end. Segments trusted below
    // the recovery point were synced before and are not even opened.
    for (auto& s : segments)
      if (s->loaded()) (void)s->sync();
    env->sync_dir(dir);
  }
  flushed = end();
  sealed_below = active().base_offset();  // clean stops and recovery both synced every segment
  if (recovered || dir_synced_through == std::numeric_limits<int64_t>::max())
    dir_synced_through = active().base_offset();
  recovery_point_written = recovery_checkpoint.value_or(-1);
  if (recovered && write_checkpoint(*env, file(kRecoveryPointFile), flushed)) recovery_point_written = flushed;
  if (!active().empty()) active().first_append_ms = now_ms;
  active().roll_jitter_ms = random_segment_jitter(config);
  if (config.preallocate) active().set_preallocated();  // reserved blocks may be left from the last run
  load_epochs();
  // Before a pending truncation, which rewrites the indexes it cuts.
  load_txn_indexes(env->list(dir));
  // A truncation the previous run began: finish it before anything else can
  // be appended past its target.
  if (auto pending = read_checkpoint(*env, file(kTruncateToFile))) {
    if (!truncate_to(std::max(*pending, log_start)))
      throw std::runtime_error("cannot finish the truncation of " + dir.string() + ": " + std::strerror(errno));
  }
  load_producers();
}

// Suffix truncation, crash-safe by an intent record (FORMAT.md):
//  1. `truncate-to` = target, written durably. From here on every open()
//     cuts the log at the target before anything else, so whatever the steps
//     below leave behind after a crash (a segment unlinked or cut in the page
//     cache only, an index longer than its log) is cut again.
//  2. Segments wholly at or past the target are removed, last first; the one
//     holding the target is cut (file and both indexes) and becomes active.
//  3. The epoch cache drops the epochs that started at or past the new end.
//  4. The cut segment and the directory are synced; the recovery point moves
//     to the new end (everything left is durable).
//  5. `truncate-to` is removed and the directory synced: only now may a new
//     append go past the target, since a surviving intent would cut it.
bool PartitionLog::Impl::truncate_to(int64_t target) {
  bool pending = env->exists(file(kTruncateToFile));
  if (target >= end()) {
    if (!pending) return true;
    return env->remove(file(kTruncateToFile)) && env->sync_dir(dir);
  }
  if (target < log_start) {
    errno = EINVAL;
    return false;
  }
  if (!touch() || !write_checkpoint(*env, file(kTruncateToFile), target)) return false;
  cut_cleaned_through(target);
  while (segments.size() > 1 && segments.back()->base_offset() >= target) {
    remove_segment(*segments.back());
    segments.pop_back();
  }
  if (!active().truncate_to(target)) return false;
  // By the actual end: a batch straddling the target went whole.
  if (!epochs->truncate_from_end(Offset(end()))) return false;
  // A segment that ended at the target is unchanged but now active again:
  // appends continue in it (should_roll still applies segment.bytes).
  if (!active().sync() || !env->sync_dir(dir)) return false;
  flushed = end();
  sealed_below = std::min(sealed_below, active().base_offset());
  dir_synced_through = std::max(dir_synced_through, active().base_offset());
  if (!write_checkpoint(*env, file(kRecoveryPointFile), end())) return false;
  recovery_point_written = end();
  // Snapshots past the new end are stale; the table is rebuilt as of it.
  load_producers();
  return env->remove(file(kTruncateToFile)) && env->sync_dir(dir);
}

std::unique_ptr<PartitionLog> PartitionLog::open(const std::filesystem::path& dir, const LogConfig& config,
                                                 int64_t now_ms) {
  return open(dir, config, now_ms, Env::posix());
}

std::unique_ptr<PartitionLog> PartitionLog::open(const std::filesystem::path& dir, const LogConfig& config,
                                                 int64_t now_ms, Env* env, FileCache* files) {
  std::unique_ptr<PartitionLog> log(new PartitionLog());
  log->impl_ = std::make_unique<Impl>();
  log->impl_->env = env;
  if (!files) {
    log->impl_->own_files = std::make_unique<FileCache>(env, kPrivateCacheCapacity);
    files = log->impl_->own_files.get();
  }
  log->impl_->files = files;
  log->impl_->dir = dir;
  log->impl_->config = config;
  log->impl_->load(now_ms);
  return log;
}

PartitionLog::~PartitionLog() = default;

AppendResult PartitionLog::append(std::span<uint8_t> batches, LeaderEpoch leader_epoch, int64_t now_ms,
                                  const TxnVerification& verification) {
  Impl& m = *impl_;
  m.last_now_ms = std::max(m.last_now_ms, now_ms);
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto& extents = m.extents;
  result.error =
      protocol::split_batches(batches, extents, static_cast<size_t>(std::max(0, m.config.max_message_bytes)));
  if (result.error == ErrorCode::NONE && extents.empty()) result.error = ErrorCode::CORRUPT_MESSAGE;
  bool append_time = m.config.timestamp_type == TimestampType::LogAppendTime;
  if (result.error == ErrorCode::NONE) {
    protocol::BatchValidationConfig check;
    check.now_ms = now_ms;
    check.log_append_time = append_time;
    check.timestamp_before_max_ms = m.config.effective_timestamp_before_max_ms();
    check.timestamp_after_max_ms = m.config.effective_timestamp_after_max_ms();
    check.compacted = m.config.compact;
    for (const auto& e : extents) {
      auto batch = batches.subspan(e.position, e.size);
      auto v = protocol::validate_produced_batch(batch, check, m.inflated);
      if (v.error != ErrorCode::NONE) {
        result.error = v.error;
        result.error_message = std::move(v.message);
        result.record_errors = std::move(v.record_errors);
        return result;
      }
      // The header's max timestamp is what the time index, retention and
      // ListOffsets go by: take it from the records, not from the producer.
      if (!append_time) protocol::set_max_timestamp(batch, v.max_timestamp);
    }
  }
  if (result.error == ErrorCode::NONE && m.config.compression >= 0) {
    result.error = m.recompress(batches);
    if (result.error == ErrorCode::MESSAGE_TOO_LARGE)
      result.error_message = "A batch recompressed to the topic's compression.type exceeds max.message.bytes";
  }
  // Kafka: RecordBatchTooLargeException when one append exceeds segment.bytes.
  if (result.error == ErrorCode::NONE && batches.size() > static_cast<uint64_t>(m.config.segment_bytes))
    result.error = ErrorCode::RECORD_LIST_TOO_LARGE;
  if (result.error != ErrorCode::NONE) return result;

  // Idempotent producers: sequence and epoch checks, duplicates. Batches of
  // one producer in one call are checked against each other too, through a
  // scratch table of the producers the call touches.
  ProducerStateTable pending;
  bool idempotent = false;
  for (const auto& e : extents) {
    protocol::BatchView v(batches.subspan(e.position, e.size));
    if (v.producer_id() < 0 || v.is_control()) continue;
    idempotent = true;
    const int64_t pid = v.producer_id();
    const int32_t first_seq = v.base_sequence();
    const int32_t last_seq = last_sequence(first_seq, v.last_offset_delta());
    const ProducerStateTable& table = pending.find(pid) ? pending : m.producers;
    auto check = table.check(pid, v.producer_epoch(), first_seq, last_seq, v.is_transactional());
    if (check.duplicate) {
      // Kafka answers a retried batch with its original offsets and appends nothing.
      result.base_offset = check.duplicate->first_offset;
      result.last_offset = check.duplicate->last_offset;
      return result;
    }
    if (check.error != ErrorCode::NONE) {
      result.error = check.error;
      result.error_message = std::move(check.message);
      return result;
    }
    // KIP-890 (UnifiedLog.analyzeAndValidateProducerState): a transactional
    // batch opens a transaction here only under the guard of a verification
    // the coordinator confirmed (a batch before it in this call may have
    // opened it already).
    if (v.is_transactional() && !table.has_ongoing_txn(pid) && !m.producers.append_allowed(pid, verification)) {
      result.error = ErrorCode::INVALID_TXN_STATE;
      result.error_message = "Record was not part of an ongoing transaction";
      return result;
    }
    // ProducerAppendInfo.checkSequence: while the producer's transaction is
    // being verified, nothing above the lowest sequence seen goes in first.
    if (const VerificationEntry* ve = m.producers.verification(pid);
        ve && !verification.coordinator && !pending.find(pid) && first_seq > ve->lowest_seq) {
      result.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
      result.error_message = "Out of order sequence number for producer " + std::to_string(pid) + ": " +
                             std::to_string(first_seq) + " (incoming seq. number), " + std::to_string(ve->lowest_seq) +
                             " (earliest seen sequence)";
      return result;
    }
    if (!pending.find(pid))
      if (const ProducerEntry* current = m.producers.find(pid)) pending.put(pid, *current);
    pending.record(pid, v.producer_epoch(), first_seq, last_seq, 0, 0, -1, v.is_transactional());
  }

  int64_t next = m.end();
  for (const auto& e : extents) {
    auto batch = batches.subspan(e.position, e.size);
    int32_t delta = protocol::BatchView(batch).last_offset_delta();
    protocol::set_base_offset(batch, next);
    protocol::set_partition_leader_epoch(batch, leader_epoch.value());
    if (append_time) protocol::set_log_append_time(batch, now_ms);
    next += static_cast<int64_t>(delta) + 1;
  }
  if (!m.touch() || (m.should_roll(batches.size(), next - 1, now_ms) && !m.roll())) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  // The cache learns a new epoch before its first batch is written: a crash
  // in between leaves an entry at the log end, which open() drops.
  if (!m.epochs->assign(leader_epoch, Offset(m.end()))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  if (!m.active().append(batches, extents)) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    result.base_offset = -1;
    return result;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  if (idempotent)
    for (const auto& e : extents) m.record_batch(batches.subspan(e.position, e.size), m.active().base_offset());
  result.last_offset = m.end() - 1;
  result.log_append_time = append_time ? now_ms : -1;
  return result;
}

AppendResult PartitionLog::append_replicated(std::span<const uint8_t> batches, int64_t now_ms) {
  Impl& m = *impl_;
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto& extents = m.extents;
  extents.clear();
  int64_t next = m.end();
  size_t pos = 0;
  while (batches.size() - pos >= protocol::kBatchLogOverhead) {
    int64_t length = static_cast<int32_t>(load_be32(batches.data() + pos + 8));
    if (length < static_cast<int64_t>(protocol::kBatchHeaderSize - protocol::kBatchLogOverhead)) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      return result;
    }
    size_t size = protocol::kBatchLogOverhead + static_cast<size_t>(length);
    if (batches.size() - pos < size) break;  // partial: the next fetch brings it whole
    auto batch = batches.subspan(pos, size);
    const char* reason = nullptr;
    if (protocol::validate_batch(batch, protocol::BatchOrigin::Replication, reason) != ErrorCode::NONE) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      result.error_message = reason ? reason : "invalid batch";
      return result;
    }
    protocol::BatchView view(batch);
    // Gaps are allowed: a compacted leader log has them (Kafka's
    // appendAsFollower only asks offsets to increase).
    if (view.base_offset() < next) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      result.error_message = "replicated batch at offset " + std::to_string(view.base_offset()) +
                             " lies below the log end " + std::to_string(next);
      return result;
    }
    extents.push_back({pos, size});
    next = view.last_offset() + 1;
    pos += size;
  }
  if (extents.empty()) return result;
  auto whole = batches.subspan(0, pos);
  // Offsets must stay within a u32 of the segment's base (the indexes).
  // Only a compaction gap of over 2^31 offsets could break that; it is
  // refused rather than stored where recovery would cut it.
  const bool rolls = m.should_roll(whole.size(), next - 1, now_ms);
  if (next - 1 - (rolls ? m.end() : m.active().base_offset()) > kMaxRelativeOffset) {
    result.error = ErrorCode::CORRUPT_MESSAGE;
    result.error_message = "replicated batches end more than 2^31 offsets past the segment they would go to";
    return result;
  }
  if (!m.touch() || (rolls && !m.roll())) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  // Batch by batch where the epoch changes, so that the cache learns each
  // epoch before its first batch is on disk (as append() does).
  size_t run_begin = 0;
  while (run_begin < extents.size()) {
    int32_t epoch = protocol::BatchView(whole.subspan(extents[run_begin].position, extents[run_begin].size))
                        .partition_leader_epoch();
    size_t run_end = run_begin + 1;
    while (
        run_end < extents.size() &&
        protocol::BatchView(whole.subspan(extents[run_end].position, extents[run_end].size)).partition_leader_epoch() ==
            epoch)
      ++run_end;
    if (epoch >= 0 && !m.epochs->assign(LeaderEpoch(epoch), Offset(m.end()))) {
      result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return result;
    }
    size_t from = extents[run_begin].position;
    size_t to = extents[run_end - 1].position + extents[run_end - 1].size;
    std::vector<protocol::BatchExtent> run(extents.begin() + run_begin, extents.begin() + run_end);
    for (auto& e : run) e.position -= from;
    if (!m.active().append(whole.subspan(from, to - from), run)) {
      result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return result;
    }
    for (size_t i = run_begin; i < run_end; ++i)
      m.record_batch(whole.subspan(extents[i].position, extents[i].size), m.active().base_offset());
    run_begin = run_end;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  result.last_offset = m.end() - 1;
  return result;
}

AppendResult PartitionLog::append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                             const protocol::TxnMarker& marker, LeaderEpoch leader_epoch,
                                             int64_t now_ms) {
  Impl& m = *impl_;
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto check = m.producers.check_marker(producer_id, producer_epoch, marker.coordinator_epoch);
  if (check.error != ErrorCode::NONE) {
    result.error = check.error;
    result.error_message = std::move(check.message);
    return result;
  }
  auto batch = protocol::build_txn_marker_batch(producer_id, producer_epoch, marker, now_ms);
  protocol::set_base_offset(batch, m.end());
  protocol::set_partition_leader_epoch(batch, leader_epoch.value());
  const protocol::BatchExtent extent{0, batch.size()};
  if (!m.touch() || (m.should_roll(batch.size(), m.end(), now_ms) && !m.roll()) ||
      !m.epochs->assign(leader_epoch, Offset(m.end()))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  if (!m.active().append(batch, std::span(&extent, 1))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    result.base_offset = -1;
    return result;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  m.record_batch(batch, m.active().base_offset());
  result.last_offset = result.base_offset;
  return result;
}

int64_t PartitionLog::last_stable_offset(int64_t high_watermark) const {
  const Impl& m = *impl_;
  int64_t lso = high_watermark;
  int64_t first_open = m.producers.first_ongoing_offset();
  if (first_open >= 0) lso = std::min(lso, first_open);
  for (const auto& txn : m.unstable)
    if (txn.last_offset >= high_watermark) lso = std::min(lso, txn.first_offset);
  return std::max(lso, std::min(m.log_start, high_watermark));
}

void PartitionLog::on_high_watermark(int64_t high_watermark) {
  auto& unstable = impl_->unstable;
  while (!unstable.empty() && unstable.front().last_offset < high_watermark) unstable.pop_front();
}

std::vector<AbortedTxn> PartitionLog::aborted_transactions(int64_t from, int64_t to) const {
  std::vector<AbortedTxn> out;
  // An entry lives in the segment of its marker, at or after `from`'s.
  const Impl& m = *impl_;
  if (m.aborted.empty()) return out;
  int64_t first_base = m.segments[m.segment_for(from)]->base_offset();
  for (auto it = m.aborted.lower_bound(first_base); it != m.aborted.end(); ++it)
    for (const auto& e : it->second)
      if (e.last_offset >= from && e.first_offset < to) out.push_back(e);
  return out;
}

ReadResult PartitionLog::read(int64_t offset, uint64_t max_bytes, bool min_one, int64_t limit_offset,
                              bool bounded) const {
  Impl& m = *impl_;
  ReadResult result;
  if (offset < m.log_start || offset > m.end()) {
    result.error = ErrorCode::OFFSET_OUT_OF_RANGE;
    return result;
  }
  if (offset >= limit_offset) return result;
  for (size_t i = m.segment_for(offset); i < m.segments.size(); ++i) {
    Segment& seg = *m.segments[i];
    // One handle for the slice; the cache cannot close it while the slice
    // holds it, however long the response waits for the socket.
    auto file = bounded ? seg.log_file_for_read() : seg.log_file();
    if (!file) {
      // EAGAIN: the shard's descriptors are held by responses on their way;
      // what was read so far (maybe nothing) is the answer, and the client's
      // next Fetch reads on from there.
      if (result.slices.empty() && file.error != EAGAIN) result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      break;
    }
    auto h = seg.base_offset() <= offset ? seg.find(offset) : seg.read_header(0);
    FileSlice slice{file.file, h ? h->position : 0, 0};
    bool stop = false;
    for (; h; h = seg.read_header(h->position + h->size)) {
      // Nothing at or past the limit (the high watermark) may be seen.
      if (h->last_offset >= limit_offset) {
        stop = true;
        break;
      }
      if (result.bytes + h->size > max_bytes && (result.bytes > 0 || !min_one)) {
        stop = true;
        break;
      }
      slice.length += h->size;
      result.bytes += h->size;
      result.next_offset = h->last_offset + 1;
    }
    if (slice.length) result.slices.push_back(std::move(slice));
    if (stop) break;
  }
  return result;
}

int64_t PartitionLog::log_start_offset() const { return impl_->log_start; }

bool PartitionLog::truncate_to(Offset offset) {
  if (impl_->closed) {
    errno = EBADF;
    return false;
  }
  Impl& m = *impl_;
  if (offset.value() >= m.end()) {
    // Nothing to cut, but an epoch this replica assigned as leader at its log
    // end and never wrote in must go (Kafka's truncateTo does the same), or
    // the follower would name it as its last fetched epoch for ever.
    return m.epochs->truncate_from_end(Offset(m.end()));
  }
  return m.truncate_to(offset.value());
}

bool PartitionLog::truncate_fully_and_start_at(Offset offset) {
  Impl& m = *impl_;
  if (m.closed) {
    errno = EBADF;
    return false;
  }
  if (offset.value() <= m.end()) {
    errno = EINVAL;
    return false;
  }
  // The epochs go first: a crash at any later step leaves either the old log
  // (below the leader's start, so the next fetch starts over again) or the
  // new start, and that must not name an old epoch as its last.
  if (!m.touch() || !m.epochs->reset({}) || !write_checkpoint(*m.env, m.file(kLogStartOffsetFile), offset.value()))
    return false;
  int error = 0;
  auto fresh = m.try_new_segment(offset.value(), &error);
  if (!fresh) {
    errno = error;
    return false;
  }
  for (auto& s : m.segments) m.remove_segment(*s);
  m.segments.clear();
  m.unstable.clear();
  m.cut_cleaned_through(-1);
  m.segments.push_back(std::move(fresh));
  m.log_start = offset.value();
  for (auto& [_, name] : m.list_snapshots()) m.env->remove(m.dir / name);
  m.producers.clear();
  if (!m.env->sync_dir(m.dir)) return false;
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();
  if (!write_checkpoint(*m.env, m.file(kRecoveryPointFile), m.end())) return false;
  m.recovery_point_written = m.end();
  return true;
}

bool PartitionLog::assign_epoch(LeaderEpoch epoch) {
  Impl& m = *impl_;
  if (epoch <= m.epochs->latest_epoch().value_or(kUndefinedEpoch)) return true;
  return m.touch() && m.epochs->assign(epoch, Offset(m.end()));
}

std::optional<LeaderEpoch> PartitionLog::latest_epoch() const { return impl_->epochs->latest_epoch(); }

EpochEndOffset PartitionLog::end_offset_for_epoch(LeaderEpoch epoch) const {
  return impl_->epochs->end_offset_for(epoch, Offset(impl_->end()));
}

const std::vector<EpochEntry>& PartitionLog::epoch_entries() const { return impl_->epochs->entries(); }
int64_t PartitionLog::log_end_offset() const { return impl_->end(); }

int64_t PartitionLog::offset_for_timestamp(int64_t ts) const {
  for (const auto& seg : impl_->segments) {
    if (seg->max_timestamp() < ts) continue;
    if (auto h = seg->find_timestamp(ts)) return std::max(h->base_offset, impl_->log_start);
  }
  return -1;
}

std::pair<int64_t, int64_t> PartitionLog::max_timestamp_and_offset() const {
  std::pair<int64_t, int64_t> best{-1, -1};
  for (const auto& seg : impl_->segments)
    if (seg->max_timestamp() > best.first) best = {seg->max_timestamp(), seg->offset_of_max_timestamp()};
  return best;
}

int64_t PartitionLog::delete_records_before(int64_t offset) {
  Impl& m = *impl_;
  int64_t target = std::clamp(offset, m.log_start, m.end());
  if (target == m.log_start) return m.log_start;
  if (!m.touch()) return m.log_start;
  m.log_start = target;
  // Persisted before any segment goes, so a restart never shows the deleted records again.
  write_checkpoint(*m.env, m.file(kLogStartOffsetFile), m.log_start);
  // As in delete_front(): a stale entry below the start is trimmed at open().
  (void)m.epochs->truncate_from_start(Offset(m.log_start));
  while (m.segments.size() > 1 && m.segments.front()->next_offset() <= m.log_start) {
    if (!m.delete_front()) break;
  }
  return m.log_start;
}

void PartitionLog::enforce_retention(int64_t now_ms) {
  Impl& m = *impl_;
  if (m.closed) return;
  m.last_now_ms = std::max(m.last_now_ms, now_ms);
  m.remove_deleted_files(now_ms);
  m.producers.expire(now_ms - m.config.producer_id_expiration_ms);
  if (m.rolls_by_time(now_ms) && !m.roll())
    throw std::runtime_error("cannot roll the active segment in " + m.dir.string());
  // Time and size retention are the "delete" cleanup policy (Kafka: a
  // compact-only topic keeps its records however old or large).
  if (m.config.cleanup_delete && m.config.retention_ms >= 0) {
    // An empty closed segment (all its records compacted away) has no
    // timestamp to wait for.
    while (m.segments.size() > 1 &&
           (m.segments.front()->empty() || (m.segments.front()->max_timestamp() >= 0 &&
                                            now_ms - m.segments.front()->max_timestamp() > m.config.retention_ms))) {
      if (!m.delete_front()) break;
    }
  }
  if (m.config.cleanup_delete && m.config.retention_bytes >= 0) {
    uint64_t total = size_bytes();
    while (m.segments.size() > 1 &&
           total - m.segments.front()->size() >= static_cast<uint64_t>(m.config.retention_bytes)) {
      total -= m.segments.front()->size();
      {
        if (!m.delete_front()) break;
      }
    }
  }
}

void PartitionLog::set_config(const LogConfig& config) { impl_->config = config; }
const LogConfig& PartitionLog::config() const { return impl_->config; }

Env& PartitionLog::env() const { return *impl_->env; }

PartitionLog::SyncRequest PartitionLog::sync_handles() {
  Impl& m = *impl_;
  SyncRequest request;
  request.durable_offset = m.end();
  request.sealed_below = m.active().base_offset();
  if (m.dir_synced_through < m.active().base_offset()) {
    // fdatasync of the directory makes the new segments' names durable; on
    // mark_flushed, sealed_below (the active base now) says how far.
    auto dir = m.files->get(m.dir, false, /*directory=*/true);
    request.files.push_back(dir.file);  // nullptr if it cannot be opened: the sync fails
  }
  for (const auto& seg : m.segments) {
    bool active = seg.get() == &m.active();
    if (!active && seg->base_offset() < m.sealed_below) continue;
    auto files = seg->sync_files(/*with_indexes=*/!active);
    if (m.config.page_cache_tail_bytes > 0 && files.front()) {
      if (!active) {
        // Sealed since the last sync: all of it is synced now. (Up to a tail's
        // worth of it may be read again soon, by consumers at the end; they
        // read it from the disk once.)
        request.cache_drops.push_back({files.front(), seg->size()});
      } else if (auto end = m.cache_drop_end(*seg)) {
        request.cache_drops.push_back({files.front(), *end});
      }
    }
    for (auto& h : files) request.files.push_back(std::move(h));
  }
  return request;
}

void PartitionLog::mark_flushed(int64_t durable_offset, int64_t sealed_below) {
  Impl& m = *impl_;
  m.flushed = std::max(m.flushed, std::min(durable_offset, m.end()));
  m.sealed_below = std::max(m.sealed_below, sealed_below);
  // A request made while a directory sync was owed carried the directory.
  if (m.dir_synced_through < sealed_below) m.dir_synced_through = sealed_below;
  m.release_pins();
  if (!m.closed) m.maybe_write_recovery_point();
}

int64_t PartitionLog::flushed_offset() const { return impl_->flushed; }

bool PartitionLog::has_unsynced_data() const {
  const Impl& m = *impl_;
  return m.flushed < m.end() || m.sealed_below < m.active().base_offset();
}

void PartitionLog::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  if (m.standing_marker) return;  // unchanged since a clean start: the marker still stands
  m.active().seal();
  bool ok = true;
  // Segments below sealed_below were synced whole already.
  for (auto& seg : m.segments)
    if (seg.get() == &m.active() || seg->base_offset() >= m.sealed_below)
      ok = seg->sync() && m.sync_txn_index(seg->base_offset()) && ok;
  if (m.dir_synced_through < m.active().base_offset()) ok = m.env->sync_dir(m.dir) && ok;
  if (!ok) return;  // no marker: the next start recovers
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();
  write_checkpoint(*m.env, m.file(kRecoveryPointFile), m.end());
  m.write_snapshot(/*durable=*/true);
  write_checkpoint(*m.env, m.file(kCleanShutdownFile), m.end());
}

bool PartitionLog::prepare_shutdown() {
  Impl& m = *impl_;
  if (m.closed) return false;
  m.closed = true;
  if (m.standing_marker) return false;
  m.active().seal();
  // Made durable by the caller's syncfs, before any marker is written.
  m.write_snapshot(/*durable=*/false);
  return true;
}

void PartitionLog::finish_shutdown() {
  Impl& m = *impl_;
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();  // the caller's syncfs
  m.release_pins();
  write_checkpoint(*m.env, m.file(kCleanShutdownFile), m.end(), /*durable=*/false);
}

void PartitionLog::destroy(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

uint64_t PartitionLog::id() const { return impl_->id; }

int64_t PartitionLog::cleaned_through() const { return impl_->cleaned_through; }

std::optional<CleanPlan> PartitionLog::plan_cleaning(int64_t now_ms, int64_t last_stable_offset) {
  Impl& m = *impl_;
  if (m.closed || m.swap_failed || !m.config.compact || m.config.compacted_by_owner || m.segments.size() < 2)
    return std::nullopt;
  // Everything of a segment must be durable below the recovery point before
  // it may be replaced: recovery then never scans it (FORMAT.md).
  const int64_t durable = m.standing_marker ? *m.standing_marker : m.recovery_point_written;
  int64_t limit = std::min(m.active().base_offset(), last_stable_offset);
  if (m.config.min_compaction_lag_ms > 0) {
    for (size_t i = 0; i + 1 < m.segments.size(); ++i) {
      Segment& seg = *m.segments[i];
      if (seg.base_offset() >= limit) break;
      if (seg.max_timestamp() > now_ms - m.config.min_compaction_lag_ms) {
        limit = std::min(limit, seg.base_offset());
        break;
      }
    }
  }
  CleanPlan plan;
  for (size_t i = 0; i + 1 < m.segments.size(); ++i) {
    int64_t end = m.segments[i + 1]->base_offset();
    if (end > limit || end > durable) break;
    plan.segments.push_back({m.segments[i]->base_offset(), m.segments[i]->size(), end});
  }
  if (plan.segments.empty()) return std::nullopt;
  plan.first_uncleanable = plan.segments.back().end_offset;
  plan.first_dirty = std::clamp(std::max({m.cleaned_through, m.log_start, plan.segments.front().base_offset}),
                                plan.segments.front().base_offset, plan.first_uncleanable);
  uint64_t clean_bytes = 0;
  const CleanerSegment* first_dirty_segment = nullptr;
  size_t first_dirty_index = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const auto& seg = plan.segments[i];
    if (seg.end_offset <= plan.first_dirty) {
      clean_bytes += seg.size;
    } else {
      plan.dirty_bytes += seg.size;
      if (!first_dirty_segment) {
        first_dirty_segment = &seg;
        first_dirty_index = i;
      }
    }
  }
  uint64_t total = clean_bytes + plan.dirty_bytes;
  plan.dirty_ratio = total ? static_cast<double>(plan.dirty_bytes) / static_cast<double>(total) : 0;
  bool due = plan.dirty_bytes > 0 && plan.dirty_ratio > m.config.min_cleanable_dirty_ratio;
  // max.compaction.lag.ms: by the first batch of the dirty section, as Kafka.
  if (!due && first_dirty_segment && m.config.max_compaction_lag_ms < std::numeric_limits<int64_t>::max()) {
    if (auto h = m.segments[first_dirty_index]->read_header(0))
      due = h->max_timestamp >= 0 && now_ms - h->max_timestamp > m.config.max_compaction_lag_ms;
  }
  if (!due && m.next_horizon_ms <= now_ms) due = true;
  if (!due) return std::nullopt;

  plan.dir = m.dir;
  plan.log_id = m.id;
  for (const auto& [_, entries] : m.aborted)
    for (const auto& e : entries)
      if (e.first_offset < plan.first_uncleanable) plan.aborted.push_back(e);
  std::sort(plan.aborted.begin(), plan.aborted.end(),
            [](const AbortedTxn& a, const AbortedTxn& b) { return a.first_offset < b.first_offset; });
  for (const auto& [pid, entry] : m.producers.producers())
    plan.producers[pid] = {entry.batches.empty() ? -1 : entry.batches.back().last_offset, entry.epoch};
  plan.now_ms = now_ms;
  plan.delete_retention_ms = m.config.delete_retention_ms;
  plan.max_group_bytes = m.config.segment_bytes;
  plan.index_interval_bytes = m.config.index_interval_bytes;
  plan.compression_levels[1] = m.config.compression_gzip_level;
  plan.compression_levels[2] = 0;
  plan.compression_levels[3] = m.config.compression_lz4_level;
  plan.compression_levels[4] = m.config.compression_zstd_level;
  return plan;
}

LogCleaner::SwapOutcome PartitionLog::swap_cleaned(const CleanedGroup& group) {
  using Outcome = LogCleaner::SwapOutcome;
  Impl& m = *impl_;
  if (m.closed || m.swap_failed || group.log_id != m.id || group.replaced.empty()) return Outcome::Refused;
  // The replaced segments must be exactly those planned, still closed and
  // synced: retention, DeleteRecords or a truncation may have changed them.
  auto it = std::find_if(m.segments.begin(), m.segments.end(),
                         [&](const auto& s) { return s->base_offset() == group.replaced.front().base_offset; });
  if (it == m.segments.end()) return Outcome::Refused;
  size_t first = static_cast<size_t>(it - m.segments.begin());
  size_t count = group.replaced.size();
  if (first + count >= m.segments.size()) return Outcome::Refused;  // the active one is never replaced
  for (size_t j = 0; j < count; ++j) {
    const Segment& seg = *m.segments[first + j];
    if (seg.base_offset() != group.replaced[j].base_offset || seg.size() != group.replaced[j].size)
      return Outcome::Refused;
  }
  const int64_t end = group.end_offset();
  const int64_t durable = m.standing_marker ? *m.standing_marker : m.recovery_point_written;
  if (m.segments[first + count]->base_offset() != end || end > durable) return Outcome::Refused;
  if (!m.touch()) return Outcome::Refused;

  const int64_t base = group.replaced.front().base_offset;
  if (!write_swap_intent(*m.env, m.dir, base, end)) {
    // Not committed unless the intent reached the disk: remove what may be there.
    (void)m.env->remove(swap_intent_path(m.dir, base));
    if (m.env->exists(swap_intent_path(m.dir, base)) || !m.env->sync_dir(m.dir)) {
      m.swap_failed = true;
      return Outcome::Failed;
    }
    return Outcome::Refused;
  }
  if (!complete_swap(*m.env, m.files, m.dir, base, end)) {
    m.swap_failed = true;
    return Outcome::Failed;
  }
  // The files are in place; now the segment list. Slices already handed out
  // keep the old files' descriptors (a renamed-over or removed file lives
  // on until its last descriptor closes).
  for (size_t j = 0; j < count; ++j) m.aborted.erase(m.segments[first + j]->base_offset());
  auto cleaned = Segment::open_sealed(m.files, m.dir, base, m.config.index_interval_bytes, end, group.size);
  m.segments.erase(m.segments.begin() + static_cast<std::ptrdiff_t>(first),
                   m.segments.begin() + static_cast<std::ptrdiff_t>(first + count));
  m.segments.insert(m.segments.begin() + static_cast<std::ptrdiff_t>(first), std::move(cleaned));
  if (!group.aborted.empty()) {
    m.aborted[base] = group.aborted;
  } else {
    (void)m.env->remove(m.txn_index_path(base));
  }
  return Outcome::Swapped;
}

void PartitionLog::cleaning_done(int64_t cleaned_through, int64_t next_horizon_ms) {
  Impl& m = *impl_;
  if (m.closed) return;
  m.next_horizon_ms = next_horizon_ms;
  if (cleaned_through <= m.cleaned_through) return;
  m.cleaned_through = cleaned_through;
  // Not synced: a lost or torn file only makes the next round start lower.
  (void)write_checkpoint(*m.env, m.file(kCleanerOffsetFile), cleaned_through, /*durable=*/false);
}

size_t PartitionLog::segment_count() const { return impl_->segments.size(); }

std::vector<int64_t> PartitionLog::segment_base_offsets() const {
  std::vector<int64_t> out;
  for (const auto& s : impl_->segments) out.push_back(s->base_offset());
  return out;
}

uint64_t PartitionLog::size_bytes() const {
  uint64_t total = 0;
  for (const auto& s : impl_->segments) total += s->size();
  return total;
}

const ProducerStateTable& PartitionLog::producer_state() const { return impl_->producers; }

uint64_t PartitionLog::start_txn_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms) {
  return impl_->producers.start_verification(producer_id, first_seq, epoch, now_ms);
}

bool PartitionLog::recovered_on_open() const { return impl_->recovered; }
uint64_t PartitionLog::bytes_truncated_on_open() const { return impl_->truncated_bytes; }

}  // namespace runnel::storage
