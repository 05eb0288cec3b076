// PartitionLog, opening: loading a partition's files (and recovering them
// after an unclean stop), its leader epochs, and truncation, which
// recovery completes when a crash cut it short.
#include "storage/partition_log_impl.h"

namespace runnel::storage {

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
  name_durable = !empty_dir;  // a non-empty one: synced by a clean stop, or by the recovery below
  for (const auto& name : names) {
    if (name.ends_with(".tmp") || name.ends_with(Segment::kDeletedSuffix)) {
      // (.deleted: a segment retired by the previous run, file.delete.delay.ms)
      (void)env->remove(dir / name);  // a leftover: the next start tries again
    } else if (auto base = Segment::parse_log_name(name)) {
      bases[*base] = true;
    }
  }
  for (const auto& name : names) {
    // An index without its log is left over from a deletion cut short.
    auto stem = name.substr(0, name.find('.'));
    bool index = name.ends_with(".index") || name.ends_with(".timeindex");
    if (index && Segment::parse_log_name(stem + ".log") && !bases.contains(*Segment::parse_log_name(stem + ".log")))
      (void)env->remove(dir / name);  // a leftover: the next start tries again
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
    if (marker) {
      // Cleared before recovery changes anything, durably: a crash from here
      // on must be seen as unclean by the next start.
      if (!clear_checkpoint(*env, file(kCleanShutdownFile)))
        throw std::runtime_error("cannot clear the clean-shutdown marker in " + dir.string());
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
    // A failure here is an I/O error on this log (Kafka takes it offline).
    for (auto& s : segments)
      if (s->loaded() && !s->sync())
        throw std::runtime_error("cannot sync the recovered " + dir.string() + ": " + std::strerror(errno));
    // The directory's name too: the run that crashed may have made it and
    // never synced it (nothing of it was acknowledged then; now it is).
    name_durable = false;
    if (!sync_dir_and_name())
      throw std::runtime_error("cannot sync the recovered " + dir.string() + ": " + std::strerror(errno));
  }
  flushed = end();
  sealed_below = active().base_offset();  // clean stops and recovery both synced every segment
  if (recovered || dir_synced_through == std::numeric_limits<int64_t>::max())
    dir_synced_through = active().base_offset();
  recovery_point_written = recovery_checkpoint.value_or(-1);
  // After an unclean stop only what lies below the recovery point is known
  // durable: the producer state replays from a snapshot at or below it.
  if (recovered) trusted_below = recovery_point;
  if (!active().empty()) active().first_append_ms = now_ms;
  active().roll_jitter_ms = partition_log_detail::random_segment_jitter(config);
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
  // After an unclean stop the recovery point stays where it was: the next
  // unclean start replays from the same snapshot again (the entries this
  // replay rewrote need no sync yet), and it moves on at the next roll's
  // sync. That sync must carry every aborted-transaction index the replay
  // rewrote: with an older snapshot than the recovery point's (that one
  // torn), the replay began in a sealed segment, and the recovery point must
  // not pass it before its index is durable again.
  const int64_t replayed_from = load_producers(/*shortcut=*/!recovered);
  if (replayed_from < end()) {
    if (recovered) {
      sealed_below = std::min(sealed_below, segments[segment_for(replayed_from)]->base_offset());
    } else if (!sync_txn_indexes_from(replayed_from)) {
      // A clean start replays only a log without snapshots (from before
      // them); its marker becomes the recovery point at the first change.
      throw std::runtime_error("cannot sync the aborted-transaction indexes of " + dir.string() + ": " +
                               std::strerror(errno));
    }
  }
  trusted_below = std::numeric_limits<int64_t>::max();
}

// Suffix truncation, crash-safe by an intent record (FORMAT.md):
//  1. `truncate-to` = target, written durably. From here on every open()
//     cuts the log at the target before anything else, so whatever the steps
//     below leave behind after a crash (a segment unlinked or cut in the page
//     cache only, an index longer than its log) is cut again.
//  2. Segments wholly at or past the target are removed, last first; the one
//     holding the target is cut (file and both indexes) and becomes active.
//  3. The epoch cache drops the epochs that started at or past the new end.
//  4. The cut segment and the directory are synced; the producer state is
//     reloaded as of the new end, the aborted-transaction indexes its
//     replay rewrote and a snapshot at the end are made durable, and the
//     recovery point moves to the new end (everything left is durable).
//  5. `truncate-to` is removed and the directory synced: only now may a new
//     append go past the target, since a surviving intent would cut it.
bool PartitionLog::Impl::truncate_to(int64_t target) {
  bool pending = env->exists(file(kTruncateToFile));
  if (target >= end()) {
    if (!pending) return true;
    // A truncation the previous run began and whose cut is already done:
    // its later steps may not be (the recovery point may still name an
    // offset past the end, and the next unclean start would trust segments
    // made after it unread). They are idempotent: run them at the end.
    target = end();
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
  // Segments rolled since the last sync are synced too: the recovery point
  // below names the end, and recovery would trust them unread (their
  // .txnindex files with the replay's below).
  const int64_t unsynced_from = sealed_below;
  for (auto& seg : segments) {
    if (seg.get() == &active() || seg->base_offset() < unsynced_from) continue;
    if (!seg->sync()) return false;
  }
  if (!active().sync() || !sync_dir_and_name()) return false;
  flushed = end();
  sealed_below = active().base_offset();
  dir_synced_through = std::max(dir_synced_through, active().base_offset());
  // Snapshots past the new end are stale; the table is rebuilt as of it.
  const int64_t replayed_from = load_producers(/*shortcut=*/false);
  if (!sync_txn_indexes_from(std::min(replayed_from, unsynced_from)) || !write_snapshot(/*durable=*/true)) return false;
  if (!write_recovery_point(end())) return false;
  return env->remove(file(kTruncateToFile)) && sync_dir_and_name();
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

}  // namespace runnel::storage
