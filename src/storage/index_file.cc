#include "storage/index_file.h"

namespace runnel::storage {

bool IndexFile::open() {
  file_ = env_->open(path_, true);
  if (!file_) return false;
  int64_t n = env_->size(*file_);
  if (n < 0) return false;
  size_ = static_cast<uint64_t>(n);
  return true;
}

bool IndexFile::read_all(std::vector<uint8_t>& out) {
  uint64_t whole = size_ - size_ % entry_size_;
  out.resize(whole);
  if (whole && !env_->pread(*file_, 0, out)) return false;
  if (whole != size_) return truncate(whole / entry_size_);
  return true;
}

bool IndexFile::append(std::span<const uint8_t> entry) {
  if (!env_->pwrite(*file_, size_, entry)) return false;
  size_ += entry.size();
  return true;
}

bool IndexFile::truncate(size_t entries) {
  uint64_t size = entries * entry_size_;
  if (size >= size_ && size_ % entry_size_ == 0) return true;
  if (!env_->truncate(*file_, size)) return false;
  size_ = size;
  return true;
}

bool IndexFile::remove() {
  file_.reset();
  return env_->remove(path_);
}

}  // namespace runnel::storage
