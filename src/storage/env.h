#pragma once
// The file-system operations the storage engine uses, behind one small
// interface (LevelDB's Env) so that tests can swap in a file system that loses
// unsynced data (FaultInjectionEnv). Files are plain descriptors wrapped in
// FileHandle, so that reads can be handed out as FileSlices for sendfile.
//
// Thread-safety: Env::posix() is stateless and safe from any thread. Calls on
// distinct files may run concurrently; the flusher thread calls sync() while
// the owning shard appends to the same file, which POSIX allows.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/file_slice.h"

namespace runnel::storage {

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX implementation.
  static Env* posix();

  // Opens `path` for reading and writing, creating it (empty) when `create`
  // is set and it does not exist. nullptr on failure, with errno set (EMFILE
  // when the process is out of descriptors).
  virtual std::shared_ptr<FileHandle> open(const std::filesystem::path& path, bool create) = 0;
  // Opens a directory read-only (for sync_filesystem). nullptr on failure.
  virtual std::shared_ptr<FileHandle> open_dir(const std::filesystem::path& dir);
  // Reads exactly out.size() bytes at `position`; false on error or short read.
  [[nodiscard]] virtual bool pread(const FileHandle& file, uint64_t position, std::span<uint8_t> out) = 0;
  // Writes all of `data` at `position`; false on error.
  [[nodiscard]] virtual bool pwrite(const FileHandle& file, uint64_t position, std::span<const uint8_t> data) = 0;
  // fdatasync: every byte written before the call is on stable storage after
  // it. On a directory handle (open_dir), its entries (like sync_dir).
  [[nodiscard]] virtual bool sync(const FileHandle& file) = 0;
  // fsync of a directory, making creations, renames and removals in it durable.
  [[nodiscard]] virtual bool sync_dir(const std::filesystem::path& dir) = 0;
  // syncfs: every file and directory change on the file system that holds
  // `any` is on stable storage after it. Reports (Linux >= 5.8) any writeback
  // error on that file system since `any` was opened, so a handle opened at
  // start-up makes one call at shutdown cover every write of the run, through
  // whatever descriptor it was made (including ones closed since).
  [[nodiscard]] virtual bool sync_filesystem(const FileHandle& any);
  // The device (st_dev) of the file system that holds `file`; false (errno
  // set) if fstat fails.
  [[nodiscard]] virtual bool device_of(const FileHandle& file, uint64_t* device);
  [[nodiscard]] virtual bool truncate(const FileHandle& file, uint64_t size) = 0;
  // Reserves disk blocks for the first `size` bytes of `file` without changing
  // its length (fallocate FALLOC_FL_KEEP_SIZE): later writes there need no
  // new allocation, and readers and recovery never see a zero tail. A
  // truncate() to the file's length releases what was not written. False
  // (errno set) on failure, EOPNOTSUPP where the file system cannot.
  [[nodiscard]] virtual bool preallocate(const FileHandle& file, uint64_t size);
  // Advice: the cached pages of `file` below `end` may go (posix_fadvise
  // POSIX_FADV_DONTNEED). Only clean pages leave, so callers pass synced
  // bytes; later reads of them go to the disk. False (errno set) on failure,
  // which only leaves the pages cached.
  [[nodiscard]] virtual bool drop_cache(const FileHandle& file, uint64_t end);
  // Size in bytes, or -1 on error.
  virtual int64_t size(const FileHandle& file) = 0;
  // Size of the file at `path` without opening it (stat), or -1 on error.
  virtual int64_t file_size(const std::filesystem::path& path);
  [[nodiscard]] virtual bool rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  [[nodiscard]] virtual bool remove(const std::filesystem::path& path) = 0;
  virtual bool exists(const std::filesystem::path& path) = 0;
  // Creates `dir` and any missing parent (mkdir -p). The new directories'
  // names are not durable until their parents are synced
  // (create_dirs_durably).
  [[nodiscard]] virtual bool create_dirs(const std::filesystem::path& dir) = 0;
  // File names (not paths) in `dir`; empty when it cannot be read.
  virtual std::vector<std::string> list(const std::filesystem::path& dir) = 0;

  // Conveniences built on the primitives above.
  // create_dirs, then an fsync of the parent of every directory it made, so
  // that the new directories survive a crash (as Kafka does for a log
  // directory it creates). For directories made once, at start-up or for a
  // broker-wide file; a partition's directory has its name synced lazily,
  // with its first data (PartitionLog).
  [[nodiscard]] bool create_dirs_durably(const std::filesystem::path& dir);
  // The levels of `dir` (itself and its parents) that do not exist,
  // outermost first: what create_dirs(dir) would make.
  std::vector<std::filesystem::path> missing_dirs(const std::filesystem::path& dir);
  // Reads a whole (small) file; false if missing or unreadable.
  [[nodiscard]] bool read_file(const std::filesystem::path& path, std::vector<uint8_t>& out);
  // Replaces `path` atomically: writes `path`.tmp, syncs it, renames it over
  // `path` and syncs the directory, so a crash leaves the old or the new file.
  // With `durable` false neither sync is made: a crash leaves the old file, the
  // new one, or a torn new one (callers must detect that, e.g. by a CRC), and
  // the caller makes it durable later (sync_filesystem at shutdown).
  [[nodiscard]] bool write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> data,
                                       bool durable = true);
  // Overwrites `path` in place from byte 0 (creating it when missing, cutting
  // a longer file to `data`'s length) and, unless `durable` is false,
  // fdatasyncs it (and its directory when the file was created). Once the
  // file exists no inode is made or freed: on ext4 without a journal every
  // file creation scans the inodes freed in the last minutes (a create after
  // 10,000 unlinks took 77 us instead of 29), so a file rewritten for every
  // partition at each roll or shutdown is cheaper kept than replaced. A crash
  // before the sync leaves the old bytes or the new ones (or, for a write
  // crossing a sector, a mix): for small files with a CRC whose loss only
  // costs time, as the recovery point and the clean-shutdown marker.
  [[nodiscard]] bool write_file_in_place(const std::filesystem::path& path, std::span<const uint8_t> data,
                                         bool durable = true);
};

}  // namespace runnel::storage
