#pragma once
// An Env for tests that simulates power loss (LevelDB's FaultInjectionTestEnv).
// It forwards every call to a real Env, remembers for each file how many
// bytes were on stable storage at its last sync(), and keeps the changes to
// directory entries (creations, renames, removals) that no sync_dir() of
// their directory has made durable yet. drop_unsynced_data() undoes those
// changes, newest first (a removed or replaced file comes back with what was
// durable of it, a directory made since goes with its files), then truncates
// every file to its synced size.
//
// A truncate() that cuts synced bytes is not durable until the file's next
// sync: drop_unsynced_data() writes the cut synced bytes back (a power loss
// may undo an ftruncate whose inode change never reached the disk).
//
// A pwrite() over synced bytes (Env::write_file_in_place: the recovery point,
// the clean-shutdown marker) is not durable either until the next sync:
// drop_unsynced_data() writes the overwritten bytes back. A file this Env did
// not create counts as synced whole when it is first overwritten.
//
// A power loss may keep some of a directory's pending changes: POSIX only
// promises what an fsync of the directory made durable, and a journalling
// file system commits the changes in the order made. drop_unsynced_data()
// with a seed keeps, per directory, a random prefix of them (the changes
// of different directories independently); without one it keeps none.
//
// A directory made by create_dirs is pending in its parent like a file
// (undone, it goes with everything in it).
//
// Model limits: renames and removals of whole directories are taken as
// durable at once; a rename across directories is pending on its
// destination's directory only; an overwrite not synced is undone whole (a
// real crash may keep it).
//
// The real binary runs under it too, for tests only (`runnel serve
// --fault-injection`): cut_power_and_exit() then stops every write,
// drops what was not synced and ends the process, as a power cut would.
//
// Thread-safety: all methods are safe to call concurrently (one mutex for the
// bookkeeping; every call that changes a file holds `io_mu_` shared, so that
// cut_power_and_exit(), holding it exclusively, sees no write half done).
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "storage/env.h"

namespace runnel::storage {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base = Env::posix()) : base_(base) {}

  // Simulates a power loss. Every file must be closed first (the logs that
  // used this Env destroyed without close()), as after a real crash. With
  // `prefix_seed` 0 every directory change not made durable is undone;
  // otherwise each directory keeps a prefix of its changes, its length drawn
  // from a generator seeded with `prefix_seed`.
  void drop_unsynced_data(uint64_t prefix_seed = 0);
  // Directory changes (creations, renames, removals of files) that a power
  // loss would undo now.
  size_t pending_dir_changes() const;
  // Simulates a power loss in a running process: waits for the file
  // operations under way, blocks every later one, drops what was not synced
  // (as drop_unsynced_data() with a seed from the clock, with the files
  // still open) and _exit()s with `exit_code`.
  [[noreturn]] void cut_power_and_exit(int exit_code);
  // While set, sync() and sync_dir() fail (a disk that stopped accepting writes).
  void set_fail_syncs(bool fail);
  // The next `n` sync() / sync_dir() calls succeed and every later one fails
  // (a crash at a chosen point of a multi-step operation); -1 turns it off.
  void fail_syncs_after(int n);
  // From now on every sync() of a file under `dir` fails with EIO (a disk
  // that went bad under one partition); other files are not affected.
  void fail_syncs_under(const std::filesystem::path& dir);
  int sync_calls() const;
  // While not empty, every pwrite() to a file whose name ends with `suffix`
  // fails with ENOSPC (a full disk that still has room in the blocks other
  // files hold); "" turns it off.
  void fail_writes_to_files_ending(const std::string& suffix);

  std::shared_ptr<FileHandle> open(const std::filesystem::path& path, bool create) override;
  std::shared_ptr<FileHandle> open_dir(const std::filesystem::path& dir) override { return base_->open_dir(dir); }
  bool pread(const FileHandle& file, uint64_t position, std::span<uint8_t> out) override {
    return base_->pread(file, position, out);
  }
  bool pwrite(const FileHandle& file, uint64_t position, std::span<const uint8_t> data) override;
  bool sync(const FileHandle& file) override;
  bool sync_dir(const std::filesystem::path& dir) override;
  // Marks every file (contents and directory entry) as synced.
  bool sync_filesystem(const FileHandle& any) override;
  bool truncate(const FileHandle& file, uint64_t size) override;
  int64_t size(const FileHandle& file) override { return base_->size(file); }
  bool rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  bool remove(const std::filesystem::path& path) override;
  bool exists(const std::filesystem::path& path) override { return base_->exists(path); }
  bool create_dirs(const std::filesystem::path& dir) override;
  std::vector<std::string> list(const std::filesystem::path& dir) override { return base_->list(dir); }

 private:
  struct FileState {
    uint64_t synced_size = 0;
    // Synced bytes an unsynced truncate() cut, from offset `undo_at`.
    uint64_t undo_at = 0;
    std::vector<uint8_t> undo;
    // Synced bytes as they were before unsynced pwrite()s over them, from
    // offset `overwritten_at` (one range covering every such write).
    uint64_t overwritten_at = 0;
    std::vector<uint8_t> overwritten;
  };
  // A change to a directory's entries that no sync of it has made durable.
  struct DirChange {
    enum class Kind { kCreate, kCreateDir, kRename, kRemove };
    Kind kind;
    std::string dir;   // the directory whose sync makes it durable
    std::string path;  // the file (or directory) created, removed, or renamed to
    std::string from;  // kRename: the old name
    // What `path` held before (kRemove, or a kRename that replaced a file):
    // the bytes a power loss would have left of it, put back if undone.
    std::optional<std::vector<uint8_t>> replaced;
  };
  // Under mu_: the bytes of `path` a power loss would leave now (its synced
  // bytes, with the cut and overwritten ones put back). False (errno set)
  // when they cannot be read.
  bool durable_bytes(const std::string& path, std::vector<uint8_t>& out);
  // Under mu_: undoes one directory change (newest first).
  void undo(const DirChange& change);
  // Under mu_: a directory rename moves the bookkeeping of its files along.
  void rename_tracked_dir(const std::string& from, const std::string& to);
  // Under mu_: saves the synced bytes a pwrite() of `length` bytes at
  // `position` is about to change. False when they cannot be read.
  bool save_overwritten(const FileHandle& file, const std::string& path, uint64_t position, uint64_t length);
  // Under mu_: whether this sync fails (fail_syncs_ or the budget is spent).
  bool sync_fails();
  // sync_dir() for a caller that holds io_mu_ already.
  bool sync_dir_locked(const std::filesystem::path& dir);
  // Under mu_: the work of drop_unsynced_data().
  void drop_unsynced_data_locked(uint64_t prefix_seed);
  static std::string path_of(const FileHandle& file);

  Env* base_;
  std::shared_mutex io_mu_;  // shared by file changes, exclusive for a power cut
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;  // by absolute path; untracked files are fully durable
  std::vector<DirChange> pending_;          // oldest first
  bool fail_syncs_ = false;
  int sync_budget_ = -1;
  std::vector<std::string> failing_dirs_;  // absolute, each ending in '/'
  int sync_calls_ = 0;
  std::string failing_write_suffix_;
  std::atomic<bool> failing_writes_{false};  // !failing_write_suffix_.empty(), read without mu_
};

}  // namespace runnel::storage
