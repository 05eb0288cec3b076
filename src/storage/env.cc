#include "storage/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace runnel::storage {
namespace {

class PosixEnv final : public Env {
 public:
  std::shared_ptr<FileHandle> open(const std::filesystem::path& path, bool create) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd;
    do fd = ::open(path.c_str(), flags, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return nullptr;
    return std::make_shared<FileHandle>(fd);
  }

  bool pread(const FileHandle& file, uint64_t position, std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(file.fd(), out.data() + done, out.size() - done, static_cast<off_t>(position + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool pwrite(const FileHandle& file, uint64_t position, std::span<const uint8_t> data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(file.fd(), data.data() + done, data.size() - done, static_cast<off_t>(position + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool sync(const FileHandle& file) override {
    int rc;
    do rc = ::fdatasync(file.fd());
    while (rc < 0 && errno == EINTR);
    return rc == 0;
  }

  bool sync_dir(const std::filesystem::path& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  }

  bool truncate(const FileHandle& file, uint64_t size) override {
    return ::ftruncate(file.fd(), static_cast<off_t>(size)) == 0;
  }

  int64_t size(const FileHandle& file) override {
    struct stat st;
    if (::fstat(file.fd(), &st) != 0) return -1;
    return st.st_size;
  }

  bool rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0;
  }

  bool remove(const std::filesystem::path& path) override {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return !ec;
  }

  bool exists(const std::filesystem::path& path) override {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
  }

  bool create_dirs(const std::filesystem::path& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    return !ec;
  }

  std::vector<std::string> list(const std::filesystem::path& dir) override {
    std::vector<std::string> names;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
      names.push_back(it->path().filename().string());
    return names;
  }
};

}  // namespace

Env* Env::posix() {
  static PosixEnv env;
  return &env;
}

std::vector<std::filesystem::path> Env::missing_dirs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  auto start = dir.lexically_normal();
  if (!start.has_filename()) start = start.parent_path();  // "a/b/" -> "a/b"
  for (auto p = start; !p.empty() && p != p.parent_path() && !exists(p); p = p.parent_path()) missing.push_back(p);
  std::reverse(missing.begin(), missing.end());
  return missing;
}

bool Env::create_dirs_durably(const std::filesystem::path& dir) {
  const auto missing = missing_dirs(dir);
  if (!create_dirs(dir)) return false;
  for (const auto& made : missing)
    if (!sync_dir(made.parent_path().empty() ? "." : made.parent_path())) return false;
  return true;
}

bool Env::read_file(const std::filesystem::path& path, std::vector<uint8_t>& out) {
  if (!exists(path)) return false;
  auto file = open(path, false);
  if (!file) return false;
  int64_t n = size(*file);
  if (n < 0) return false;
  out.resize(static_cast<size_t>(n));
  return pread(*file, 0, out);
}

bool Env::write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> data, bool durable) {
  auto tmp = path;
  tmp += ".tmp";
  {
    // A leftover is removed rather than truncated: ext4 (auto_da_alloc)
    // starts writeback on the close of a file truncated to 0, one device
    // request per file, which made a shutdown writing 10,000 snapshots and
    // markers (then covered by one syncfs) 15% slower.
    (void)remove(tmp);
    auto file = open(tmp, true);
    if (!file || !pwrite(*file, 0, data) || (durable && !sync(*file))) return false;
  }
  return rename(tmp, path) && (!durable || sync_dir(path.parent_path()));
}

bool Env::write_file_in_place(const std::filesystem::path& path, std::span<const uint8_t> data, bool durable) {
  bool created = false;
  auto file = open(path, false);
  if (!file) {
    if (errno != ENOENT) return false;
    file = open(path, true);
    if (!file) return false;
    created = true;
  }
  if (!pwrite(*file, 0, data)) return false;
  const int64_t length = size(*file);
  if (length < 0 || (static_cast<uint64_t>(length) > data.size() && !truncate(*file, data.size()))) return false;
  return !durable || (sync(*file) && (!created || sync_dir(path.parent_path())));
}

std::shared_ptr<FileHandle> Env::open_dir(const std::filesystem::path& dir) {
  int fd;
  do fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return nullptr;
  return std::make_shared<FileHandle>(fd);
}

bool Env::sync_filesystem(const FileHandle& any) { return ::syncfs(any.fd()) == 0; }

bool Env::device_of(const FileHandle& file, uint64_t* device) {
  // The flusher asks for every file of every request it syncs together.
  if (uint64_t cached = file.cached_device(); cached != 0) {
    *device = cached;
    return true;
  }
  struct stat st;
  if (::fstat(file.fd(), &st) != 0) return false;
  *device = static_cast<uint64_t>(st.st_dev);
  file.cache_device(*device);
  return true;
}

bool Env::preallocate(const FileHandle& file, uint64_t size) {
  int rc;
  do rc = ::fallocate(file.fd(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size));
  while (rc != 0 && errno == EINTR);
  return rc == 0;
}

bool Env::drop_cache(const FileHandle& file, uint64_t end) {
  // posix_fadvise returns the error instead of setting errno.
  const int rc = ::posix_fadvise(file.fd(), 0, static_cast<off_t>(end), POSIX_FADV_DONTNEED);
  if (rc != 0) errno = rc;
  return rc == 0;
}

int64_t Env::file_size(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_size;
}

}  // namespace runnel::storage
