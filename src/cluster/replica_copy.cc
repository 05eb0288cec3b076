#include "cluster/replica_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace runnel::cluster {
namespace {

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool fail(std::string* error, const std::string& what) {
  if (error) *error = what + ": " + std::strerror(errno);
  return false;
}

bool is_segment(const std::string& name) { return name.size() > 4 && name.ends_with(".log"); }

}  // namespace

// Under a throttle, copied in steps this large at most, so that the rate
// is kept smoothly and a stop is heard within one.
constexpr uint64_t kThrottledStep = 256 << 10;

ReplicaCopy::ReplicaCopy(std::filesystem::path from, std::filesystem::path to, storage::IoThrottler* throttler)
    : from_(std::move(from)), to_(std::move(to)), throttler_(throttler) {}

bool ReplicaCopy::copy_file(const std::string& name, bool whole, std::string* error) {
  Fd in(::open((from_ / name).c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) {
    if (errno == ENOENT) return true;  // deleted meanwhile (retention): the next pass forgets it
    return fail(error, "cannot open " + (from_ / name).string());
  }
  struct stat st {};
  if (::fstat(in.fd, &st) != 0) return fail(error, "cannot stat " + (from_ / name).string());
  const auto size = static_cast<uint64_t>(st.st_size);
  auto known = copied_.find(name);
  const bool grown = known != copied_.end() && known->second.inode == st.st_ino && known->second.size <= size;
  if (!whole && grown && known->second.size == size) return true;  // nothing new
  const uint64_t start = !whole && grown ? known->second.size : 0;
  Fd out(::open((to_ / name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (out.fd < 0) return fail(error, "cannot create " + (to_ / name).string());
  if (::ftruncate(out.fd, static_cast<off_t>(start)) != 0)
    return fail(error, "cannot truncate " + (to_ / name).string());
  auto in_off = static_cast<loff_t>(start), out_off = static_cast<loff_t>(start);
  while (static_cast<uint64_t>(in_off) < size) {
    const bool limited = throttled_ && throttler_ && throttler_->limited();
    if (throttled_ && cancelled()) {
      if (error) *error = "cancelled";
      return false;
    }
    const uint64_t step = std::min(size - static_cast<uint64_t>(in_off), limited ? kThrottledStep : UINT64_MAX);
    ssize_t n = -1;
    if (use_copy_file_range_) {
      n = ::copy_file_range(in.fd, &in_off, out.fd, &out_off, step, 0);
      // Two file systems (two disks): Linux 5.19+ refuses copy_file_range
      // between them unless their type implements it (ext4 does not).
      if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
        use_copy_file_range_ = false;
        continue;
      }
    } else {
      if (buffer_.empty()) buffer_.resize(1 << 20);
      n = ::pread(in.fd, buffer_.data(), std::min<uint64_t>(buffer_.size(), step), in_off);
      for (ssize_t written = 0; n > 0 && written < n;) {
        auto w = ::pwrite(out.fd, buffer_.data() + written, static_cast<size_t>(n - written), out_off + written);
        if (w < 0) return fail(error, "cannot write " + (to_ / name).string());
        written += w;
      }
      if (n > 0) {
        in_off += n;
        out_off += n;
      }
    }
    if (n < 0) return fail(error, "cannot copy " + (from_ / name).string());
    if (n == 0) break;  // cut meanwhile: the last pass copies it whole
    bytes_copied_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    if (limited) throttler_->throttle(static_cast<uint64_t>(n), &cancelled_);
  }
  copied_[name] = {st.st_ino, static_cast<uint64_t>(in_off)};
  unsynced_.insert(name);
  return true;
}

bool ReplicaCopy::pass(bool last, bool exact, std::string* error) {
  throttled_ = !last;
  std::error_code ec;
  std::filesystem::create_directories(to_, ec);
  if (ec) {
    errno = ec.value();
    return fail(error, "cannot create " + to_.string());
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(from_, ec))
    if (entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
  if (ec) {
    errno = ec.value();
    return fail(error, "cannot list " + from_.string());
  }
  // Segments only grow unless the log is cut (then `exact`), the newest
  // too: its top-up is all the last pass copies of it, so that the shard
  // is not held while a whole active segment (up to segment.bytes) is
  // copied. The other files are small and may be rewritten in place (an
  // index rebuilt): copied whole.
  for (const auto& name : names) {
    const bool whole = last && (exact || !is_segment(name));
    if (!copy_file(name, whole, error)) return false;
  }
  if (last) {
    // What the original no longer has (segments deleted by retention).
    for (const auto& entry : std::filesystem::directory_iterator(to_, ec)) {
      auto name = entry.path().filename().string();
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      std::filesystem::remove(entry.path(), ec);
      copied_.erase(name);
      unsynced_.erase(name);
    }
  }
  return true;
}

bool ReplicaCopy::sync(std::string* error) {
  for (const auto& name : unsynced_) {
    Fd f(::open((to_ / name).c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0 || ::fdatasync(f.fd) != 0) return fail(error, "cannot sync " + (to_ / name).string());
  }
  unsynced_.clear();
  Fd dir(::open(to_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0 || ::fsync(dir.fd) != 0) return fail(error, "cannot sync " + to_.string());
  return true;
}

}  // namespace runnel::cluster
