#pragma once
// The file behind a sparse index: fixed-size entries appended at the end. The
// parsed entries live in memory (OffsetIndex, TimeIndex); the file only lets a
// clean start skip rebuilding them. Not thread-safe (owned by one segment).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "storage/env.h"

namespace runnel::storage {

class IndexFile {
 public:
  IndexFile(Env* env, std::filesystem::path path, size_t entry_size)
      : env_(env), path_(std::move(path)), entry_size_(entry_size) {}

  bool open();
  // All whole entries in the file (a torn trailing entry is dropped).
  bool read_all(std::vector<uint8_t>& out);
  bool append(std::span<const uint8_t> entry);
  // Keeps the first `entries` entries.
  bool truncate(size_t entries);
  bool remove();
  const std::shared_ptr<FileHandle>& handle() const { return file_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  Env* env_;
  std::filesystem::path path_;
  size_t entry_size_;
  std::shared_ptr<FileHandle> file_;
  uint64_t size_ = 0;
};

}  // namespace runnel::storage
