#pragma once
// A byte range of an open file, kept alive by shared ownership so that a Fetch
// response can be sent with sendfile after the log has moved on (segments are
// append-only, so bytes below the end never change). Immutable; thread-safe.
#include <cstdint>
#include <memory>

namespace runnel {

// Owns one file descriptor; closes it when the last reference goes.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct FileSlice {
  std::shared_ptr<const FileHandle> file;
  uint64_t position = 0;
  uint32_t length = 0;
};

}  // namespace runnel
