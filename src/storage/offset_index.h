#pragma once
// Sparse offset index of one segment: offset -> byte position of the batch
// that starts at that offset. An entry is added every index.interval.bytes of
// log, so a lookup lands at most that many bytes before the wanted batch.
//
// File layout (Kafka's .index, big-endian), 8 bytes per entry, no header:
//   relative offset u32 (offset - segment base) | position u32
// Entries strictly increase in both fields. The file carries no checksum: it
// is synced together with its log, checked for sanity when loaded, and
// rebuilt from the log whenever it is in doubt (see FORMAT.md).
//
// Not thread-safe (owned by one segment).
#include <cstdint>
#include <vector>

#include "storage/index_file.h"

namespace runnel::storage {

class OffsetIndex {
 public:
  struct Entry {
    int64_t offset;
    uint32_t position;
  };
  static constexpr size_t kEntrySize = 8;

  OffsetIndex(FileCache* files, std::filesystem::path path, int64_t base_offset)
      : file_(files, std::move(path), kEntrySize), base_(base_offset) {}

  [[nodiscard]] bool open() { return file_.open(); }
  // Loads the file; false (and no entries) when it is not sane for a log of
  // `log_size` bytes, and the caller must rebuild it.
  [[nodiscard]] bool load(uint64_t log_size);
  // Adds an entry; ignored unless both fields advance.
  [[nodiscard]] bool append(int64_t offset, uint32_t position);
  // The last entry at or below `offset`, or {base, 0}.
  Entry lookup(int64_t offset) const;
  // Drops every entry at or past `position` (log truncation).
  [[nodiscard]] bool truncate_to_position(uint64_t position);
  [[nodiscard]] bool clear();
  [[nodiscard]] bool remove() { return file_.remove(); }
  void release() { file_.release(); }
  const std::vector<Entry>& entries() const { return entries_; }
  std::shared_ptr<FileHandle> handle() const { return file_.handle(); }

 private:
  IndexFile file_;
  int64_t base_;
  std::vector<Entry> entries_;
};

}  // namespace runnel::storage
