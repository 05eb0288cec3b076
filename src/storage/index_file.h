#pragma once
// The file behind a sparse index: fixed-size entries appended at the end. The
// parsed entries live in memory (OffsetIndex, TimeIndex); the file only lets a
// clean start skip rebuilding them. Holds no descriptor: every access takes
// one from the FileCache. Not thread-safe (owned by one segment).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "storage/file_cache.h"

namespace runnel::storage {

class IndexFile {
 public:
  IndexFile(FileCache* files, std::filesystem::path path, size_t entry_size)
      : files_(files), path_(std::move(path)), entry_size_(entry_size) {}

  // Creates the file if it is missing and reads its size.
  [[nodiscard]] bool open();
  // All whole entries in the file (a torn trailing entry is dropped).
  [[nodiscard]] bool read_all(std::vector<uint8_t>& out);
  [[nodiscard]] bool append(std::span<const uint8_t> entry);
  // Keeps the first `entries` entries.
  [[nodiscard]] bool truncate(size_t entries);
  [[nodiscard]] bool remove();
  // Lets the cache close the file (entries in memory suffice until the next
  // append, which reopens it).
  void release() { files_->erase(path_); }
  // The open handle (opened on demand; nullptr on failure).
  std::shared_ptr<FileHandle> handle() const { return files_->get(path_, true).file; }
  const std::filesystem::path& path() const { return path_; }

 private:
  FileCache* files_;
  std::filesystem::path path_;
  size_t entry_size_;
  uint64_t size_ = 0;
};

}  // namespace runnel::storage
