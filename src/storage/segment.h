#pragma once
// One segment of a partition log: a .log file of record batches exactly as on
// the wire, starting at `base_offset`, with its sparse offset and time indexes.
// Files are named after the base offset, zero-padded to 20 digits
// (00000000000000000000.log / .index / .timeindex). Only the last segment of
// a log (the active one) is appended to.
//
// Thread-safety: none; owned by the partition log's shard. The file handles
// it exposes may be fdatasync'd from the flusher thread.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/env.h"
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
};

class Segment {
 public:
  // "00000000000000000042" for 42.
  static std::string file_stem(int64_t base_offset);
  // The base offset a "<20 digits>.log" name stands for, or nullopt.
  static std::optional<int64_t> parse_log_name(const std::string& name);

  // Creates an empty segment (files created, or truncated if present).
  static std::unique_ptr<Segment> create(Env* env, const std::filesystem::path& dir, int64_t base_offset,
                                         int32_t index_interval_bytes);
  // Opens the files of an existing segment without reading them; follow with
  // load() or recover().
  static std::unique_ptr<Segment> open(Env* env, const std::filesystem::path& dir, int64_t base_offset,
                                       int32_t index_interval_bytes);

  // After a clean stop: loads the indexes and reads only the headers past the
  // last index entry (and the records of a batch whose header max timestamp is
  // unreliable). False when anything looks wrong; call recover() then.
  bool load();
  // After an unclean stop: reads and checks every batch (length, magic, CRC,
  // offsets advancing), truncates the file at the first bad byte and rebuilds
  // both indexes, taking each batch's max timestamp from its records rather
  // than its header. Returns false only on I/O errors; `truncated` tells
  // whether bytes were cut.
  bool recover(bool& truncated);

  // Appends whole, already validated and patched batches (their extents in
  // `bytes`). On failure nothing is left behind and false is returned.
  bool append(std::span<const uint8_t> bytes, std::span<const protocol::BatchExtent> batches);
  // Adds a final time index entry for the max timestamp, so that a later
  // load() knows it without scanning (on roll and on close).
  void seal();

  // The header of the batch starting at `position`, if a whole batch is there.
  std::optional<BatchHeader> read_header(uint64_t position) const;
  // The first batch whose last offset is >= `offset`.
  std::optional<BatchHeader> find(int64_t offset) const;
  // The first batch whose max timestamp is >= `timestamp` (read from the
  // records of a batch whose header max timestamp is unreliable).
  std::optional<BatchHeader> find_timestamp(int64_t timestamp) const;

  // Syncs the log and both indexes (used by close and recovery; the flusher
  // syncs through handles()).
  bool sync();
  // Deletes the three files; slices already handed out stay readable.
  void remove();

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }  // one past the last offset in the segment
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t max_timestamp() const { return max_timestamp_; }
  int64_t offset_of_max_timestamp() const { return offset_of_max_timestamp_; }
  const std::shared_ptr<FileHandle>& log_handle() const { return log_; }
  std::vector<std::shared_ptr<const FileHandle>> handles() const;
  const OffsetIndex& offset_index() const { return index_; }
  // Wall-clock time of the first append since creation or start-up (segment.ms).
  int64_t first_append_ms = -1;

 private:
  Segment(Env* env, const std::filesystem::path& dir, int64_t base_offset, int32_t index_interval_bytes);
  bool open_files();
  void reset_state();
  // Advances the in-memory state (and the indexes) past one batch.
  bool track(const BatchHeader& h);
  // The max timestamp of the batch at `h`, read from its records; the
  // header's when they cannot be read.
  int64_t max_timestamp_from_records(const BatchHeader& h) const;

  Env* env_;
  std::filesystem::path log_path_;
  int64_t base_offset_;
  int32_t index_interval_bytes_;
  std::shared_ptr<FileHandle> log_;
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
