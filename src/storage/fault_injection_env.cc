#include "storage/fault_injection_env.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

namespace runnel::storage {
namespace {

// A power loss the model cannot carry out would leave more than a real one:
// tests would then pass on data no disk kept. Stop loudly instead.
void must(bool done, const std::filesystem::path& path) {
  if (done) return;
  std::fprintf(stderr, "FaultInjectionEnv: cannot drop the unsynced data of %s: %s\n", path.c_str(),
               std::strerror(errno));
  std::abort();
}

}  // namespace

std::string FaultInjectionEnv::path_of(const FileHandle& file) {
  // The descriptor knows its path; this keeps FileHandle free of test hooks.
  char buf[4096];
  auto link = "/proc/self/fd/" + std::to_string(file.fd());
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

std::shared_ptr<FileHandle> FaultInjectionEnv::open(const std::filesystem::path& path, bool create) {
  std::shared_lock io(io_mu_);
  bool existed = base_->exists(path);
  auto file = base_->open(path, create);
  if (file && !existed) {
    std::lock_guard lock(mu_);
    files_[std::filesystem::absolute(path).lexically_normal().string()] = FileState{};
  }
  return file;
}

bool FaultInjectionEnv::sync(const FileHandle& file) {
  std::shared_lock io(io_mu_);
  if (auto path = path_of(file); std::filesystem::is_directory(path)) {
    {
      std::lock_guard lock(mu_);
      ++sync_calls_;
    }
    return sync_dir_locked(path);  // a directory handle: its entries become durable
  }
  std::lock_guard lock(mu_);
  ++sync_calls_;
  const std::string path = path_of(file);
  bool failing_dir = false;
  for (const auto& dir : failing_dirs_) failing_dir = failing_dir || path.starts_with(dir);
  if (sync_fails() || failing_dir) {
    errno = EIO;
    return false;
  }
  // The size before the sync: in a running broker the shard appends while a
  // flusher thread syncs, and bytes written after fdatasync began are not
  // made durable by it.
  const int64_t size = base_->size(file);
  if (!base_->sync(file)) return false;
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second.synced_size = static_cast<uint64_t>(std::max<int64_t>(0, size));
    it->second.undo.clear();
    it->second.overwritten.clear();
  }
  return true;
}

bool FaultInjectionEnv::sync_fails() {
  if (fail_syncs_) return true;
  if (sync_budget_ < 0) return false;
  if (sync_budget_ == 0) return true;
  --sync_budget_;
  return false;
}

bool FaultInjectionEnv::sync_dir(const std::filesystem::path& dir) {
  std::shared_lock io(io_mu_);
  return sync_dir_locked(dir);
}

bool FaultInjectionEnv::sync_dir_locked(const std::filesystem::path& dir) {
  std::lock_guard lock(mu_);
  if (sync_fails()) return false;
  auto prefix = std::filesystem::absolute(dir).lexically_normal().string();
  if (!prefix.ends_with('/')) prefix += '/';
  for (auto& [path, state] : files_)
    if (path.starts_with(prefix) && path.find('/', prefix.size()) == std::string::npos) state.entry_synced = true;
  return base_->sync_dir(dir);
}

bool FaultInjectionEnv::sync_filesystem(const FileHandle& any) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  ++sync_calls_;
  // A directory whose syncs fail is on this file system: syncfs reports its
  // writeback error too.
  if (fail_syncs_ || !failing_dirs_.empty()) {
    errno = EIO;
    return false;
  }
  for (auto& [path, state] : files_) {
    int64_t size = base_->file_size(path);
    if (size >= 0) state.synced_size = static_cast<uint64_t>(size);
    state.entry_synced = true;
    state.undo.clear();
    state.overwritten.clear();
  }
  return base_->sync_filesystem(any);
}

bool FaultInjectionEnv::truncate(const FileHandle& file, uint64_t size) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  auto it = files_.find(path_of(file));
  if (it != files_.end() && it->second.synced_size > size) {
    // Keep the synced bytes being cut, to put back if no sync follows.
    FileState& state = it->second;
    std::vector<uint8_t> cut(state.synced_size - size);
    if (!base_->pread(file, size, cut)) return false;
    cut.insert(cut.end(), state.undo.begin(), state.undo.end());
    state.undo = std::move(cut);
    state.undo_at = size;
    state.synced_size = size;
  }
  return base_->truncate(file, size);
}

bool FaultInjectionEnv::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  auto src = std::filesystem::absolute(from).lexically_normal().string();
  auto dst = std::filesystem::absolute(to).lexically_normal().string();
  if (!base_->rename(from, to)) return false;
  auto it = files_.find(src);
  if (it != files_.end()) {
    auto state = it->second;
    files_.erase(it);
    state.entry_synced = true;  // see the model limits in the header
    files_[dst] = state;
  } else {
    files_.erase(dst);
  }
  return true;
}

bool FaultInjectionEnv::remove(const std::filesystem::path& path) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  files_.erase(std::filesystem::absolute(path).lexically_normal().string());
  return base_->remove(path);
}

void FaultInjectionEnv::drop_unsynced_data() {
  std::lock_guard lock(mu_);
  drop_unsynced_data_locked();
}

void FaultInjectionEnv::cut_power_and_exit(int exit_code) {
  io_mu_.lock();  // never released: every later file change waits until the process ends
  {
    std::lock_guard lock(mu_);
    drop_unsynced_data_locked();
  }
  ::_exit(exit_code);
}

void FaultInjectionEnv::drop_unsynced_data_locked() {
  for (auto& [path, state] : files_) {
    if (!base_->exists(path)) continue;
    if (!state.entry_synced) {
      must(base_->remove(path), path);
      continue;
    }
    if (auto file = base_->open(path, false)) {
      must(base_->truncate(*file, state.synced_size), path);
      if (!state.undo.empty()) must(base_->pwrite(*file, state.undo_at, state.undo), path);
      // Last: the bytes the undo put back may include overwritten ones.
      if (!state.overwritten.empty()) must(base_->pwrite(*file, state.overwritten_at, state.overwritten), path);
    }
  }
  files_.clear();
}

void FaultInjectionEnv::fail_syncs_after(int n) {
  std::lock_guard lock(mu_);
  sync_budget_ = n;
}

void FaultInjectionEnv::fail_syncs_under(const std::filesystem::path& dir) {
  auto prefix = std::filesystem::absolute(dir).lexically_normal().string();
  if (!prefix.ends_with('/')) prefix += '/';
  std::lock_guard lock(mu_);
  failing_dirs_.push_back(prefix);
}

void FaultInjectionEnv::set_fail_syncs(bool fail) {
  std::lock_guard lock(mu_);
  fail_syncs_ = fail;
}

bool FaultInjectionEnv::pwrite(const FileHandle& file, uint64_t position, std::span<const uint8_t> data) {
  std::shared_lock io(io_mu_);
  if (failing_writes_.load(std::memory_order_relaxed)) {
    std::lock_guard lock(mu_);
    if (!failing_write_suffix_.empty() && path_of(file).ends_with(failing_write_suffix_)) {
      errno = ENOSPC;
      return false;
    }
  }
  // Appends (the hot path) need no bookkeeping: only bytes below the file's
  // length can be synced ones.
  const int64_t length = base_->size(file);
  if (length > 0 && position < static_cast<uint64_t>(length)) {
    std::lock_guard lock(mu_);
    if (!save_overwritten(file, path_of(file), position, data.size())) return false;
  }
  return base_->pwrite(file, position, data);
}

bool FaultInjectionEnv::save_overwritten(const FileHandle& file, const std::string& path, uint64_t position,
                                         uint64_t length) {
  auto it = files_.find(path);
  if (it == files_.end()) {
    // Not created under this Env: all of it was on stable storage before.
    FileState whole;
    whole.entry_synced = true;
    whole.synced_size = static_cast<uint64_t>(std::max<int64_t>(0, base_->size(file)));
    it = files_.emplace(path, std::move(whole)).first;
  }
  FileState& state = it->second;
  const uint64_t lo = position;
  const uint64_t hi = std::min(position + length, state.synced_size);
  if (lo >= hi) return true;
  // Widen the saved range [saved_at, saved_end) (empty: at lo) to [from, to);
  // bytes outside it were not overwritten since the last sync, so the file
  // still holds them as synced.
  const uint64_t saved_at = state.overwritten.empty() ? lo : state.overwritten_at;
  const uint64_t saved_end = saved_at + state.overwritten.size();
  const uint64_t from = std::min(lo, saved_at);
  const uint64_t to = std::max(hi, saved_end);
  std::vector<uint8_t> bytes(to - from);
  auto read = [&](uint64_t begin, uint64_t end) {
    return begin >= end || base_->pread(file, begin, std::span(bytes).subspan(begin - from, end - begin));
  };
  if (!read(from, saved_at) || !read(saved_end, to)) return false;
  std::copy(state.overwritten.begin(), state.overwritten.end(), bytes.begin() + (saved_at - from));
  state.overwritten_at = from;
  state.overwritten = std::move(bytes);
  return true;
}

void FaultInjectionEnv::fail_writes_to_files_ending(const std::string& suffix) {
  std::lock_guard lock(mu_);
  failing_write_suffix_ = suffix;
  failing_writes_ = !suffix.empty();
}

int FaultInjectionEnv::sync_calls() const {
  std::lock_guard lock(mu_);
  return sync_calls_;
}

}  // namespace runnel::storage
