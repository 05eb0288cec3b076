#pragma once
// A partition's leader epoch cache (Kafka's LeaderEpochFileCache): the ordered
// list of (leader epoch, offset of the first record of that epoch), kept in
// memory and persisted to `leader-epoch-checkpoint` in the partition directory
// (format in storage/epoch_checkpoint.h) after every change.
//
// Why storage/ and not cluster/replication/ (where DESIGN.md first put it):
// the cache is a function of the log's bytes (every batch header carries its
// epoch), and it must change in lock-step with them — appended to by
// PartitionLog::append, cut by truncate_to() and by recovery of a torn tail,
// advanced by DeleteRecords and retention, rebuilt from the batch headers
// when the file is missing or corrupt. All of that happens inside
// PartitionLog, below cluster/ in the dependency order; the follower's
// truncation *rule*, which only reads the cache, stays in cluster/replication/.
//
// Every mutation rewrites the file atomically and durably (Env's temp file,
// fdatasync, rename, directory fsync). Entries change only on a leader change,
// a truncation or a start-offset move, so this costs nothing on the append
// path. A failed write leaves the memory state changed and returns false: the
// caller reports a storage error, and the next start reconciles the file with
// the log (truncate_from_end / truncate_from_start / rebuild).
//
// Thread-safety: none; owned by the partition's log, on its shard.
#include <filesystem>
#include <optional>
#include <vector>

#include "base/types.h"
#include "storage/env.h"
#include "storage/epoch_checkpoint.h"

namespace runnel::storage {

// An answer to OffsetForLeaderEpoch: the largest epoch <= the one asked for
// and the offset where it ended; {kUndefinedEpoch, kUndefinedOffset} if none.
struct EpochEndOffset {
  LeaderEpoch epoch = kUndefinedEpoch;
  Offset end_offset = kUndefinedOffset;
  bool undefined() const { return epoch == kUndefinedEpoch && end_offset == kUndefinedOffset; }
  friend bool operator==(const EpochEndOffset&, const EpochEndOffset&) = default;
};

// The rules of the cache on a list of entries, without a file: what the
// cache itself uses, and what the follower's truncation rule and its tests
// use for in-memory logs.
class EpochList {
 public:
  EpochList() = default;
  explicit EpochList(std::vector<EpochEntry> entries) : entries_(std::move(entries)) {}

  // Records that `epoch` starts at `start_offset`. Kafka's rules: a negative
  // epoch or offset, or an epoch not above the latest, changes nothing
  // (returns false); entries at or past `start_offset` are dropped first (an
  // epoch that wrote nothing gives way to the next at the same offset, and
  // entries left by a log cut without its cache go), so start offsets
  // strictly increase.
  bool assign(LeaderEpoch epoch, Offset start_offset);
  std::optional<LeaderEpoch> latest_epoch() const;
  // Kafka's LeaderEpochFileCache.endOffsetFor: for the latest epoch, the log
  // end offset; otherwise the largest epoch <= `requested` (or `requested`
  // itself when it is below every entry) with the start offset of the next
  // higher epoch; undefined when the list is empty, `requested` is undefined,
  // or it is above every epoch.
  EpochEndOffset end_offset_for(LeaderEpoch requested, Offset log_end) const;
  // Drops every entry whose start offset is >= `end` (the log was cut there).
  bool truncate_from_end(Offset end);
  // Drops every entry wholly below `start` and moves the start offset of the
  // one that contains it up to `start` (the log start moved).
  bool truncate_from_start(Offset start);
  void clear() { entries_.clear(); }
  const std::vector<EpochEntry>& entries() const { return entries_; }

 private:
  std::vector<EpochEntry> entries_;  // epochs strictly increasing, offsets non-decreasing
};

class LeaderEpochCache {
 public:
  static constexpr const char* kFileName = "leader-epoch-checkpoint";

  LeaderEpochCache(Env* env, std::filesystem::path dir) : env_(env), path_(dir / kFileName) {}

  // Reads the file. False (and an empty cache) when it is missing or does not
  // decode: the caller rebuilds it from the log.
  [[nodiscard]] bool load();
  // The mutations of EpochList, each persisted when it changed something.
  // False only when the file could not be written (errno set by the Env).
  [[nodiscard]] bool assign(LeaderEpoch epoch, Offset start_offset);
  [[nodiscard]] bool truncate_from_end(Offset end);
  [[nodiscard]] bool truncate_from_start(Offset start);
  // Replaces every entry (rebuild from the log) and writes the file.
  [[nodiscard]] bool reset(std::vector<EpochEntry> entries);

  std::optional<LeaderEpoch> latest_epoch() const { return list_.latest_epoch(); }
  EpochEndOffset end_offset_for(LeaderEpoch requested, Offset log_end) const {
    return list_.end_offset_for(requested, log_end);
  }
  const std::vector<EpochEntry>& entries() const { return list_.entries(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  [[nodiscard]] bool flush();

  Env* env_;
  std::filesystem::path path_;
  EpochList list_;
};

}  // namespace runnel::storage
