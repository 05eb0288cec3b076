#pragma once
// One segment of a partition log: a .log file of record batches exactly as on
// the wire, starting at `base_offset`, with its sparse offset and time indexes.
// Files are named after the base offset, zero-padded to 20 digits
// (00000000000000000000.log / .index / .timeindex). Only the last segment of
// a log (the active one) is appended to.
//
// A segment holds no descriptor of its own: its three files are opened on
// demand through the shard's FileCache and may be closed by it whenever
// nobody uses them. The one exception is the dirty pin: the log handle an
// append wrote through is kept (pinned) until a sync of that very handle has
// completed (sync(), or the flusher followed by release_pin()), so that the
// fdatasync acknowledging acks=all runs on the descriptor that wrote the data
// and reports its writeback errors (see file_cache.h). When the cache has no
// pin to spare, append() fdatasyncs at once instead. A segment opened with
// open_sealed() reads nothing until first needed: its indexes and max
// timestamp are loaded lazily, so a start-up with 50,000 segments touches
// only the active ones.
//
// Thread-safety: none; owned by the partition log's shard. The file handles
// it hands out may be fdatasync'd from the flusher thread.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/env.h"
#include "storage/file_cache.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"

namespace runnel::storage {

// Where one batch lies in a segment file, read from its header.
struct BatchHeader {
  uint64_t position = 0;
  uint32_t size = 0;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  // The header's max timestamp cannot be right: a CreateTime batch whose max
  // is below its base timestamp, as older runnel stored batches whose producer
  // sent maxTimestamp -1. The records know the true max.
  bool max_timestamp_unreliable = false;
  int32_t leader_epoch = -1;  // partitionLeaderEpoch (read_header() only)
  // Idempotent producer fields of the header (read_header() only).
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool control = false;
  bool transactional = false;
};

class Segment {
 public:
  // "00000000000000000042" for 42.
  static std::string file_stem(int64_t base_offset);
  // The base offset a "<20 digits>.log" name stands for, or nullopt.
  static std::optional<int64_t> parse_log_name(const std::string& name);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Creates an empty segment (files created, or truncated if present).
  // nullptr on failure, with the errno in `error` if given.
  // `preallocate_bytes` > 0: that much of the log file is reserved on disk
  // (Env::preallocate; a file system that cannot only loses the reservation).
  static std::unique_ptr<Segment> create(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                         int32_t index_interval_bytes, int* error = nullptr,
                                         uint64_t preallocate_bytes = 0);
  // An existing segment, nothing read or opened yet; follow with load() or
  // recover().
  static std::unique_ptr<Segment> open(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                       int32_t index_interval_bytes);
  // An existing sealed segment known to be whole (clean stop, or below the
  // recovery point) whose offsets end at `next_offset` and whose log is
  // `size` bytes: nothing is opened until a lookup needs the indexes, then
  // load() runs (and recover() if the indexes are not sane).
  static std::unique_ptr<Segment> open_sealed(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                              int32_t index_interval_bytes, int64_t next_offset, uint64_t size);

  // After a clean stop: loads the indexes and reads only the headers past the
  // last index entry (and the records of a batch whose header max timestamp is
  // unreliable). False when anything looks wrong; call recover() then.
  [[nodiscard]] bool load();
  // After an unclean stop: reads and checks every batch (length, magic, CRC,
  // offsets advancing), truncates the file at the first bad byte and rebuilds
  // both indexes, taking each batch's max timestamp from its records rather
  // than its header. Returns false only on I/O errors; `truncated` tells
  // whether bytes were cut.
  [[nodiscard]] bool recover(bool& truncated);

  // Removes every batch whose last offset is >= `offset`: the log file is cut
  // at the first such batch (so the segment then ends below `offset` when that
  // batch straddles it, as Kafka's LogSegment.truncateTo) and both indexes
  // lose their entries past the cut. The cut is not synced here. Returns
  // false on I/O errors (errno set), leaving the segment to be recovered.
  [[nodiscard]] bool truncate_to(int64_t offset);

  // Appends whole, already validated and patched batches (their extents in
  // `bytes`). On failure nothing is left behind and false is returned (errno
  // in `error` if given). Pins the log handle until the next sync.
  [[nodiscard]] bool append(std::span<const uint8_t> bytes, std::span<const protocol::BatchExtent> batches,
                            int* error = nullptr);
  // Adds a final time index entry for the max timestamp, so that a later
  // load() knows it without scanning (on roll and on close), and releases
  // the disk blocks reserved past the data (preallocate).
  void seal();
  // The log file may hold reserved blocks past its data (preallocate: set by
  // create(), and by the log for an active segment it reopens), which seal()
  // releases.
  void set_preallocated() { preallocated_ = true; }

  // The header of the batch starting at `position`, if a whole batch is there.
  std::optional<BatchHeader> read_header(uint64_t position) const;
  // The whole batch `h` (from read_header/find) into `out`; false on I/O errors.
  [[nodiscard]] bool read_batch(const BatchHeader& h, std::vector<uint8_t>& out) const;
  // The first batch whose last offset is >= `offset`.
  std::optional<BatchHeader> find(int64_t offset);
  // The first batch whose max timestamp is >= `timestamp` (read from the
  // records of a batch whose header max timestamp is unreliable).
  std::optional<BatchHeader> find_timestamp(int64_t timestamp);

  // Syncs the log and both indexes and drops the dirty pin (used by close
  // and recovery; the flusher syncs through sync_files()).
  [[nodiscard]] bool sync();
  // Deletes the three files; slices already handed out stay readable.
  void remove();
  // Renames the three files to `<name>.deleted` (the log first, so that an
  // open() cut short by a crash sees no segment), adding the new paths to
  // `renamed`; a file that cannot be renamed is deleted instead. Slices
  // already handed out stay readable.
  static constexpr const char* kDeletedSuffix = ".deleted";
  void rename_deleted(std::vector<std::filesystem::path>& renamed);

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }  // one past the last offset in the segment
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t max_timestamp() {
    ensure_loaded();
    return max_timestamp_;
  }
  int64_t offset_of_max_timestamp() {
    ensure_loaded();
    return offset_of_max_timestamp_;
  }
  // The log file's handle: the pinned one if any, else from the cache.
  FileCache::OpenResult log_file() const;
  // The same for a Fetch's slice: fails with EAGAIN rather than take the
  // cache far past its capacity (FileCache::get_for_read).
  FileCache::OpenResult log_file_for_read() const;
  // What the flusher must fdatasync: the log only, or the log and both
  // indexes (a sealed segment). nullptr entries where a file cannot be opened.
  std::vector<std::shared_ptr<const FileHandle>> sync_files(bool with_indexes) const;
  // Drops the dirty pin once a sync of it has completed.
  void release_pin();
  bool pinned() const { return pin_ != nullptr; }
  // False for an open_sealed() segment whose indexes were not needed yet.
  bool loaded() const { return loaded_; }
  const OffsetIndex& offset_index() {
    ensure_loaded();
    return index_;
  }
  // Wall-clock time of the first append since creation or start-up (segment.ms).
  int64_t first_append_ms = -1;
  // How much sooner than segment.ms this segment rolls (segment.jitter.ms).
  int64_t roll_jitter_ms = 0;
  // Whether an index holds `max_bytes` worth of entries already (segment.index.bytes).
  bool index_full(int64_t max_bytes) {
    ensure_loaded();
    return index_.entries().size() >= static_cast<uint64_t>(max_bytes) / OffsetIndex::kEntrySize ||
           time_index_.size() >= static_cast<uint64_t>(max_bytes) / TimeIndex::kEntrySize;
  }

 private:
  Segment(FileCache* files, const std::filesystem::path& dir, int64_t base_offset, int32_t index_interval_bytes);
  void reset_state();
  // For open_sealed() segments: load() (or recover()) on first need.
  void ensure_loaded();
  // Advances the in-memory state (and the indexes) past one batch.
  bool track(const BatchHeader& h);
  // The max timestamp of the batch at `h`, read from its records; the
  // header's when they cannot be read.
  int64_t max_timestamp_from_records(const BatchHeader& h) const;

  FileCache* files_;
  Env* env_;
  std::filesystem::path log_path_;
  int64_t base_offset_;
  int32_t index_interval_bytes_;
  bool loaded_ = true;
  bool preallocated_ = false;
  std::shared_ptr<FileHandle> pin_;  // the log handle written through since the last sync
  OffsetIndex index_;
  TimeIndex time_index_;
  int64_t next_offset_;
  uint64_t size_ = 0;
  uint64_t bytes_since_index_ = 0;
  int64_t max_timestamp_ = -1;
  int64_t offset_of_max_timestamp_ = -1;
  mutable std::vector<uint8_t> scratch_;  // decompressed records (load, recovery, timestamp lookups)
};

}  // namespace runnel::storage
