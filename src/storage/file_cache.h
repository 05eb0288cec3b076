#pragma once
// A bounded cache of open file descriptors, keyed by path (LevelDB's
// TableCache). Segments and indexes do not hold descriptors: they ask the
// cache for a handle each time they touch a file, and the least recently used
// handles are closed once more than `capacity` are open. A broker with 10,000
// partitions and 50,000 segments therefore runs within a few thousand
// descriptors instead of three per segment.
//
// Ownership: a handle is a shared_ptr. Eviction only drops the cache's own
// reference; a handle still referenced elsewhere (a FileSlice on its way to
// sendfile, a SyncRequest on the flusher, a segment's dirty pin) is never
// closed under its user, and is not evictable while so referenced: it stays
// in the cache, counts towards its size, and the cache overshoots `capacity`
// rather than close it. open_count() is therefore the number of storage
// descriptors open through this cache (plus, briefly, handles of removed
// files that readers still hold).
//
// Durability: the cache never syncs. A segment that wrote through a handle
// keeps that handle (its "dirty pin", see Segment) until the flusher has
// fdatasync'd it, so the fdatasync that acknowledges acks=all runs on the very
// descriptor the data was written through and sees any writeback error for it
// (errseq semantics: an error may be reported only to descriptors open when
// it happened). Pins are bounded by the capacity (try_pin): a segment that
// cannot pin fdatasyncs its append at once, on the shard, before letting the
// handle go. That is slow, but happens only when more partitions hold
// unsynced appends than the cache has room for (one produce request to
// thousands of partitions under a small descriptor limit); idle partitions
// are synced by the broker after runnel.idle.flush.ms, freeing their pins. Index files are not pinned: they are derived
// data, checked when loaded and rebuilt from the log (FORMAT.md), and the broker's clean shutdown covers them with one
// syncfs on a descriptor held since start-up.
//
// Thread-safety: all methods are safe from any thread (one mutex). The broker
// gives each shard its own cache, so the mutex is uncontended on the data
// path; the flusher never calls the cache, it only holds handles.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/env.h"

namespace runnel::storage {

class FileCache {
 public:
  FileCache(Env* env, size_t capacity);
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  struct OpenResult {
    std::shared_ptr<FileHandle> file;  // nullptr on failure
    int error = 0;                     // errno of the failed open(2)
    explicit operator bool() const { return file != nullptr; }
  };

  // The open handle for `path`, opening it (creating it when `create` is
  // set; a directory, read-only, when `directory` is) if it is not cached.
  // On EMFILE/ENFILE every evictable handle is closed and the open is tried
  // once more.
  [[nodiscard]] OpenResult get(const std::filesystem::path& path, bool create = false, bool directory = false);
  // As get() for an existing file, for a reader that can do without it: a
  // miss that would leave more than 1.5 times the capacity open
  // (every cached handle being in use) opens nothing and fails with EAGAIN.
  // A Fetch over thousands of partitions holds a handle per slice until its
  // response is written; this bounds them, and the client fetches the rest
  // once those handles are let go.
  [[nodiscard]] OpenResult get_for_read(const std::filesystem::path& path);
  // Forgets `path` (before it is removed or replaced); holders keep their handle.
  void erase(const std::filesystem::path& path);
  // Forgets `dir` and every path inside it (a partition directory being
  // deleted).
  void erase_under(const std::filesystem::path& dir);
  // Closes every handle nobody else holds.
  void evict_unused();
  // Closes least recently used handles nobody else holds until at most
  // `capacity` are open: after a burst of handles in use (a large Fetch) the
  // cache is back within its budget without waiting for the next miss.
  void trim();
  // Reserves one of `capacity` dirty pins (false when all are taken); every
  // successful try_pin() is matched by one unpin().
  [[nodiscard]] bool try_pin();
  void unpin();
  size_t pinned_count() const;

  Env* env() const { return env_; }
  size_t capacity() const { return capacity_; }
  // Descriptors open through this cache (in use or not).
  size_t open_count() const;
  // Of those, the ones referenced outside the cache.
  size_t in_use_count() const;
  struct Stats {
    uint64_t hits = 0;
    uint64_t opens = 0;
    uint64_t evictions = 0;
    uint64_t open_failures = 0;
    uint64_t reads_refused = 0;  // get_for_read() misses without room
  };
  Stats stats() const;

 private:
  struct Entry {
    std::shared_ptr<FileHandle> file;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  // A reader may take the cache this far past its capacity (in eighths):
  // with every descriptor of the budget in use, readers wait rather than open more.
  static constexpr size_t kReaderOvershootEighths = 12;

  OpenResult get_locked(const std::filesystem::path& path, bool create, bool directory, size_t max_open);
  // Closes least recently used handles that nobody else holds until at most
  // `target` are open (or none is evictable).
  void evict_locked(size_t target);

  Env* env_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  size_t pins_ = 0;
  Stats stats_;
};

}  // namespace runnel::storage
