#pragma once
// A byte range of an open file, kept alive by shared ownership so that a Fetch
// response can be sent with sendfile after the log has moved on (segments are
// append-only, so bytes below the end never change). Immutable; thread-safe.
#include <atomic>
#include <cstdint>
#include <memory>

namespace runnel {

// Owns one file descriptor; closes it when the last reference goes.
// Thread-safe: the descriptor never changes; the device is cached atomically.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

  // The st_dev of the file system holding the file, once someone looked it
  // up (Env::device_of); 0 until then. A descriptor's file never moves to
  // another file system, so it is looked up once per open.
  uint64_t cached_device() const { return device_.load(std::memory_order_relaxed); }
  void cache_device(uint64_t device) const { device_.store(device, std::memory_order_relaxed); }

 private:
  int fd_;
  mutable std::atomic<uint64_t> device_{0};
};

struct FileSlice {
  std::shared_ptr<const FileHandle> file;
  uint64_t position = 0;
  uint32_t length = 0;
};

}  // namespace runnel
