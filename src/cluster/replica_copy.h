#pragma once
// The file copy behind moving a replica to another log directory
// (AlterReplicaLogDirs): brings a copy of a partition's directory up to the
// original in passes. Early passes run while the partition keeps taking
// appends: a segment file (.log) copied before is only topped up with what
// was appended since (segments only grow, unless replaced, which changes
// the inode, or cut, which shrinks them); every other file is copied whole.
// The last pass runs with the partition closed, so that the copy is exact:
// it copies every file but the segments whole, tops up the segments (the
// active one too: it grows like the others), and removes what the original
// no longer has. A log cut since the first pass (Partition::truncations)
// is copied whole. sync()
// makes the copy durable. The early passes keep to `throttler`'s rate
// (replica.alter.log.dirs.io.max.bytes.per.second, shared by every move of
// the broker) and give up once cancel() is called; the last, on the shard,
// copies at full speed.
//
// Thread-safety: none; one thread at a time (the passes run off the shard,
// the last on it).
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "storage/io_throttler.h"

namespace runnel::cluster {

class ReplicaCopy {
 public:
  // `throttler` (may be null) outlives the copy.
  ReplicaCopy(std::filesystem::path from, std::filesystem::path to, storage::IoThrottler* throttler = nullptr);

  // One pass; `last`: the partition is closed and `exact` is wanted (the
  // partition may have been cut since the first pass: everything is copied
  // whole). False with `error` on an I/O error.
  [[nodiscard]] bool pass(bool last, bool exact, std::string* error);
  // fdatasync of every file written since the last sync, then of the
  // directory.
  [[nodiscard]] bool sync(std::string* error);
  // Makes the early passes (now or later) stop and fail with "cancelled":
  // the move was replaced, or the broker stops. Any thread.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Bytes written into the copy so far (any thread).
  uint64_t bytes_copied() const { return bytes_copied_.load(std::memory_order_relaxed); }
  const std::filesystem::path& destination() const { return to_; }

 private:
  struct Copied {
    ino_t inode = 0;
    uint64_t size = 0;
  };
  [[nodiscard]] bool copy_file(const std::string& name, bool whole, std::string* error);

  std::filesystem::path from_, to_;
  storage::IoThrottler* throttler_;
  std::atomic<bool> cancelled_{false};
  bool throttled_ = false;  // in an early pass
  std::map<std::string, Copied> copied_;
  std::set<std::string> unsynced_;
  std::atomic<uint64_t> bytes_copied_{0};
  // copy_file_range until the kernel refuses it between these two file
  // systems; then pread/pwrite through `buffer_`.
  bool use_copy_file_range_ = true;
  std::vector<uint8_t> buffer_;
};

}  // namespace runnel::cluster
