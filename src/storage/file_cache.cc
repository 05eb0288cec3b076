#include "storage/file_cache.h"

#include <cerrno>

namespace runnel::storage {

FileCache::FileCache(Env* env, size_t capacity) : env_(env), capacity_(std::max<size_t>(capacity, 1)) {}

FileCache::OpenResult FileCache::get(const std::filesystem::path& path, bool create, bool directory) {
  std::lock_guard lock(mu_);
  return get_locked(path, create, directory, SIZE_MAX);
}

FileCache::OpenResult FileCache::get_for_read(const std::filesystem::path& path) {
  std::lock_guard lock(mu_);
  return get_locked(path, false, false, capacity_ * kReaderOvershootEighths / 8);
}

FileCache::OpenResult FileCache::get_locked(const std::filesystem::path& path, bool create, bool directory,
                                            size_t max_open) {
  const std::string& key = path.native();
  if (auto it = entries_.find(key); it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    ++stats_.hits;
    return {it->second.file, 0};
  }
  // Make room first, so that the new descriptor fits under the limit.
  evict_locked(capacity_ - 1);
  if (entries_.size() >= max_open) {
    ++stats_.reads_refused;
    return {nullptr, EAGAIN};
  }
  auto open = [&] { return directory ? env_->open_dir(path) : env_->open(path, create); };
  errno = 0;
  auto file = open();
  int error = file ? 0 : errno;
  if (!file && (error == EMFILE || error == ENFILE)) {
    evict_locked(0);
    errno = 0;
    file = open();
    error = file ? 0 : errno;
  }
  if (!file) {
    ++stats_.open_failures;
    return {nullptr, error ? error : EIO};
  }
  ++stats_.opens;
  lru_.push_front(key);
  entries_.emplace(key, Entry{file, lru_.begin()});
  return {std::move(file), 0};
}

void FileCache::evict_locked(size_t target) {
  // Walk from the least recently used end. A handle still held elsewhere is
  // in use, hence recently used: move it to the front, so that the walk stays
  // linear however many handles are pinned.
  size_t steps = lru_.size();
  while (entries_.size() > target && steps-- > 0) {
    auto key_it = std::prev(lru_.end());
    auto it = entries_.find(*key_it);
    // use_count() == 1 is exact here: the only other way to a new reference
    // is through get(), which holds mu_.
    if (it->second.file.use_count() > 1) {
      lru_.splice(lru_.begin(), lru_, key_it);
      continue;
    }
    entries_.erase(it);
    lru_.erase(key_it);
    ++stats_.evictions;
  }
}

void FileCache::erase(const std::filesystem::path& path) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(path.native());
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void FileCache::erase_under(const std::filesystem::path& dir) {
  std::lock_guard lock(mu_);
  std::string prefix = dir.native();
  if (!prefix.ends_with('/')) prefix += '/';
  const std::string self = prefix.substr(0, prefix.size() - 1);
  for (auto it = entries_.begin(); it != entries_.end();) {
    // The directory's own handle too: a directory made again at the same
    // path (a replica moved back, a topic created again) is another inode,
    // and an fsync of the old one would make none of its new entries
    // durable.
    if (it->first.starts_with(prefix) || it->first == self) {
      lru_.erase(it->second.lru);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void FileCache::evict_unused() {
  std::lock_guard lock(mu_);
  evict_locked(0);
}

void FileCache::trim() {
  std::lock_guard lock(mu_);
  evict_locked(capacity_);
}

bool FileCache::try_pin() {
  std::lock_guard lock(mu_);
  if (pins_ >= capacity_) return false;
  ++pins_;
  return true;
}

void FileCache::unpin() {
  std::lock_guard lock(mu_);
  if (pins_ > 0) --pins_;
}

size_t FileCache::pinned_count() const {
  std::lock_guard lock(mu_);
  return pins_;
}

size_t FileCache::open_count() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

size_t FileCache::in_use_count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [_, e] : entries_) n += e.file.use_count() > 1;
  return n;
}

FileCache::Stats FileCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace runnel::storage
