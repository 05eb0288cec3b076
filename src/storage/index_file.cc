#include "storage/index_file.h"

namespace runnel::storage {

bool IndexFile::open() {
  auto file = files_->get(path_, true);
  if (!file) return false;
  int64_t n = files_->env()->size(*file.file);
  if (n < 0) return false;
  size_ = static_cast<uint64_t>(n);
  return true;
}

bool IndexFile::read_all(std::vector<uint8_t>& out) {
  uint64_t whole = size_ - size_ % entry_size_;
  out.resize(whole);
  if (whole) {
    auto file = files_->get(path_);
    if (!file || !files_->env()->pread(*file.file, 0, out)) return false;
  }
  if (whole != size_) return truncate(whole / entry_size_);
  return true;
}

bool IndexFile::append(std::span<const uint8_t> entry) {
  auto file = files_->get(path_, true);
  if (!file || !files_->env()->pwrite(*file.file, size_, entry)) return false;
  size_ += entry.size();
  return true;
}

bool IndexFile::truncate(size_t entries) {
  uint64_t size = entries * entry_size_;
  if (size >= size_ && size_ % entry_size_ == 0) return true;
  auto file = files_->get(path_, true);
  if (!file || !files_->env()->truncate(*file.file, size)) return false;
  size_ = size;
  return true;
}

bool IndexFile::remove() {
  files_->erase(path_);
  return files_->env()->remove(path_);
}

}  // namespace runnel::storage
