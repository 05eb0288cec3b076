#include "storage/fault_injection_env.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
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

// The form files_ and pending_ use: absolute, normalized, no trailing '/'.
std::string normal(const std::filesystem::path& path) {
  auto s = std::filesystem::absolute(path).lexically_normal().string();
  while (s.size() > 1 && s.ends_with('/')) s.pop_back();
  return s;
}

std::string parent_of(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

bool is_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// `path` with `from` (a directory) at its start replaced by `to`.
bool move_under(std::string& path, const std::string& from, const std::string& to) {
  if (path != from && !path.starts_with(from + '/')) return false;
  path = to + path.substr(from.size());
  return true;
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
    auto created = normal(path);
    files_[created] = FileState{};
    pending_.push_back({DirChange::Kind::kCreate, parent_of(created), created, {}, std::nullopt});
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
  if (!base_->sync_dir(dir)) return false;
  std::erase_if(pending_, [d = normal(dir)](const DirChange& change) { return change.dir == d; });
  return true;
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
    state.undo.clear();
    state.overwritten.clear();
  }
  pending_.clear();
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

bool FaultInjectionEnv::create_dirs(const std::filesystem::path& dir) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  const auto missing = missing_dirs(normal(dir));
  if (!base_->create_dirs(dir)) return false;
  for (const auto& made : missing)
    pending_.push_back({DirChange::Kind::kCreateDir, made.parent_path().string(), made.string(), {}, std::nullopt});
  return true;
}

bool FaultInjectionEnv::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  const auto src = normal(from);
  const auto dst = normal(to);
  if (is_directory(src)) {
    if (!base_->rename(from, to)) return false;
    rename_tracked_dir(src, dst);  // see the model limits in the header
    return true;
  }
  std::optional<std::vector<uint8_t>> replaced;
  if (base_->exists(dst) && !durable_bytes(dst, replaced.emplace())) return false;
  if (!base_->rename(from, to)) return false;
  auto it = files_.find(src);
  if (it != files_.end()) {
    auto state = std::move(it->second);
    files_.erase(it);
    files_[dst] = std::move(state);
  } else {
    files_.erase(dst);
  }
  pending_.push_back({DirChange::Kind::kRename, parent_of(dst), dst, src, std::move(replaced)});
  return true;
}

void FaultInjectionEnv::rename_tracked_dir(const std::string& from, const std::string& to) {
  std::map<std::string, FileState> moved;
  for (auto it = files_.begin(); it != files_.end();) {
    auto path = it->first;
    if (move_under(path, from, to)) {
      moved[path] = std::move(it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  files_.merge(moved);
  for (auto& change : pending_) {
    move_under(change.dir, from, to);
    move_under(change.path, from, to);
    move_under(change.from, from, to);
  }
}

bool FaultInjectionEnv::remove(const std::filesystem::path& path) {
  std::shared_lock io(io_mu_);
  std::lock_guard lock(mu_);
  const auto removed = normal(path);
  if (is_directory(removed) || !base_->exists(removed)) {
    // A directory goes at once (see the model limits); its files' bookkeeping with it.
    if (!base_->remove(path)) return false;
    std::erase_if(files_, [&](const auto& entry) { return entry.first.starts_with(removed + '/'); });
    files_.erase(removed);
    return true;
  }
  std::vector<uint8_t> bytes;
  if (!durable_bytes(removed, bytes)) return false;
  if (!base_->remove(path)) return false;
  files_.erase(removed);
  pending_.push_back({DirChange::Kind::kRemove, parent_of(removed), removed, {}, std::move(bytes)});
  return true;
}

bool FaultInjectionEnv::durable_bytes(const std::string& path, std::vector<uint8_t>& out) {
  auto file = base_->open(path, false);
  if (!file) return false;
  const int64_t size = base_->size(*file);
  if (size < 0) return false;
  auto it = files_.find(path);
  if (it == files_.end()) {  // not created under this Env: all of it is on stable storage
    out.resize(static_cast<size_t>(size));
    return base_->pread(*file, 0, out);
  }
  // What drop_unsynced_data() would leave of it: truncated to its synced
  // size, then the cut and the overwritten bytes written back.
  const FileState& state = it->second;
  out.assign(state.synced_size, 0);
  const auto kept = std::min<uint64_t>(state.synced_size, static_cast<uint64_t>(size));
  if (!base_->pread(*file, 0, std::span(out).first(kept))) return false;
  auto put_back = [&out](uint64_t at, const std::vector<uint8_t>& bytes) {
    if (bytes.empty()) return;
    if (out.size() < at + bytes.size()) out.resize(at + bytes.size());
    std::copy(bytes.begin(), bytes.end(), out.begin() + static_cast<ptrdiff_t>(at));
  };
  put_back(state.undo_at, state.undo);
  put_back(state.overwritten_at, state.overwritten);
  return true;
}

size_t FaultInjectionEnv::pending_dir_changes() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void FaultInjectionEnv::drop_unsynced_data(uint64_t prefix_seed) {
  std::lock_guard lock(mu_);
  drop_unsynced_data_locked(prefix_seed);
}

void FaultInjectionEnv::cut_power_and_exit(int exit_code) {
  io_mu_.lock();  // never released: every later file change waits until the process ends
  {
    std::lock_guard lock(mu_);
    const uint64_t seed = static_cast<uint64_t>(std::time(nullptr)) * 2654435761u | 1;
    std::fprintf(stderr, "FaultInjectionEnv: power cut, %zu directory changes pending, prefixes drawn with seed %llu\n",
                 pending_.size(), static_cast<unsigned long long>(seed));
    drop_unsynced_data_locked(seed);
  }
  ::_exit(exit_code);
}

void FaultInjectionEnv::undo(const DirChange& change) {
  // A directory removed since (a deleted partition) takes its changes with it.
  if (!is_directory(change.dir)) return;
  auto write_back = [this](const std::string& path, const std::vector<uint8_t>& bytes) {
    auto file = base_->open(path, true);
    must(file != nullptr, path);
    must(base_->truncate(*file, 0), path);
    if (!bytes.empty()) must(base_->pwrite(*file, 0, bytes), path);
    files_.erase(path);  // what it holds is what the disk kept
  };
  switch (change.kind) {
    case DirChange::Kind::kCreate:
      if (base_->exists(change.path)) must(base_->remove(change.path), change.path);
      files_.erase(change.path);
      break;
    case DirChange::Kind::kCreateDir: {
      std::error_code ec;
      std::filesystem::remove_all(change.path, ec);
      must(!ec, change.path);
      std::erase_if(files_, [&](const auto& entry) { return entry.first.starts_with(change.path + '/'); });
      break;
    }
    case DirChange::Kind::kRename:
      if (base_->exists(change.path) && is_directory(parent_of(change.from))) {
        must(base_->rename(change.path, change.from), change.path);
        files_.erase(change.from);
        if (auto it = files_.find(change.path); it != files_.end()) {
          files_[change.from] = std::move(it->second);
          files_.erase(change.path);
        }
      }
      if (change.replaced) write_back(change.path, *change.replaced);
      break;
    case DirChange::Kind::kRemove:
      write_back(change.path, *change.replaced);
      break;
  }
}

void FaultInjectionEnv::drop_unsynced_data_locked(uint64_t prefix_seed) {
  // Which of each directory's pending changes survive: a prefix, none
  // without a seed.
  std::map<std::string, size_t> kept;
  if (prefix_seed != 0) {
    std::map<std::string, size_t> count;
    for (const auto& change : pending_) ++count[change.dir];
    std::mt19937_64 rng(prefix_seed);
    for (const auto& [dir, n] : count) kept[dir] = rng() % (n + 1);
  }
  std::vector<bool> undone(pending_.size());
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < pending_.size(); ++i) undone[i] = seen[pending_[i].dir]++ >= kept[pending_[i].dir];
  for (size_t i = pending_.size(); i-- > 0;)
    if (undone[i]) undo(pending_[i]);
  pending_.clear();
  for (auto& [path, state] : files_) {
    if (!base_->exists(path)) continue;
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
