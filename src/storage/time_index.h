#pragma once
// Sparse time index of one segment: for a timestamp, where to start scanning
// for the first batch whose max timestamp reaches it. Entry (T, O) promises
// that every batch before offset O has a max timestamp <= T; entries are added
// with the offset index (every index.interval.bytes) when the segment's max
// timestamp has grown, and once more when the segment rolls or closes.
//
// File layout (Kafka's .timeindex, big-endian), 12 bytes per entry, no header:
//   timestamp i64 | relative offset u32
// Both fields strictly increase. No checksum, for the reasons in offset_index.h.
//
// Not thread-safe (owned by one segment).
#include <cstdint>
#include <optional>
#include <vector>

#include "storage/index_file.h"

namespace runnel::storage {

class TimeIndex {
 public:
  struct Entry {
    int64_t timestamp;
    int64_t offset;
  };
  static constexpr size_t kEntrySize = 12;

  TimeIndex(FileCache* files, std::filesystem::path path, int64_t base_offset)
      : file_(files, std::move(path), kEntrySize), base_(base_offset) {}

  [[nodiscard]] bool open() { return file_.open(); }
  // Loads the file; false (and no entries) when an entry's offset is not
  // below `next_offset` or the entries do not increase.
  [[nodiscard]] bool load(int64_t next_offset);
  // Adds an entry; ignored unless both fields advance.
  [[nodiscard]] bool append(int64_t timestamp, int64_t offset);
  // The offset to start scanning from for `timestamp`: that of the last entry
  // whose timestamp is below it, or the segment base.
  int64_t lookup(int64_t timestamp) const;
  std::optional<Entry> last() const;
  size_t size() const { return entries_.size(); }
  // Drops every entry at or past `offset` (log truncation).
  [[nodiscard]] bool truncate_to_offset(int64_t offset);
  [[nodiscard]] bool clear();
  [[nodiscard]] bool remove() { return file_.remove(); }
  void release() { file_.release(); }
  std::shared_ptr<FileHandle> handle() const { return file_.handle(); }

 private:
  IndexFile file_;
  int64_t base_;
  std::vector<Entry> entries_;
};

}  // namespace runnel::storage
