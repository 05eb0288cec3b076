#include "storage/segment.h"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>

#include "base/endian.h"
#include "protocol/batch_validator.h"

namespace runnel::storage {
namespace {
using protocol::BatchView;
using protocol::kBatchHeaderSize;
using protocol::kBatchLogOverhead;

constexpr uint64_t kMaxSegmentPosition = std::numeric_limits<uint32_t>::max();
}  // namespace

std::string Segment::file_stem(int64_t base_offset) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(base_offset));
  return buf;
}

std::optional<int64_t> Segment::parse_log_name(const std::string& name) {
  if (name.size() != 24 || !name.ends_with(".log")) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 20, value);
  if (ec != std::errc() || end != name.data() + 20 || value < 0) return std::nullopt;
  return value;
}

Segment::Segment(FileCache* files, const std::filesystem::path& dir, int64_t base_offset, int32_t index_interval_bytes)
    : files_(files),
      env_(files->env()),
      log_path_(dir / (file_stem(base_offset) + ".log")),
      base_offset_(base_offset),
      index_interval_bytes_(index_interval_bytes),
      index_(files, dir / (file_stem(base_offset) + ".index"), base_offset),
      time_index_(files, dir / (file_stem(base_offset) + ".timeindex"), base_offset),
      next_offset_(base_offset) {}

Segment::~Segment() { release_pin(); }

void Segment::release_pin() {
  if (!pin_) return;
  pin_.reset();
  files_->unpin();
}

std::unique_ptr<Segment> Segment::create(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                         int32_t index_interval_bytes, int* error, uint64_t preallocate_bytes) {
  std::unique_ptr<Segment> s(new Segment(files, dir, base_offset, index_interval_bytes));
  auto log = files->get(s->log_path_, true);
  errno = 0;
  if (!log || !s->env_->truncate(*log.file, 0) || !s->index_.open() || !s->index_.clear() || !s->time_index_.open() ||
      !s->time_index_.clear()) {
    if (error) *error = log ? (errno ? errno : EIO) : log.error;
    return nullptr;
  }
  if (preallocate_bytes > 0) {
    // Advisory: without the reservation appends allocate as they go (and
    // report ENOSPC as before).
    (void)s->env_->preallocate(*log.file, preallocate_bytes);
    s->preallocated_ = true;
  }
  return s;
}

std::unique_ptr<Segment> Segment::open(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                       int32_t index_interval_bytes) {
  return std::unique_ptr<Segment>(new Segment(files, dir, base_offset, index_interval_bytes));
}

std::unique_ptr<Segment> Segment::open_sealed(FileCache* files, const std::filesystem::path& dir, int64_t base_offset,
                                              int32_t index_interval_bytes, int64_t next_offset, uint64_t size) {
  std::unique_ptr<Segment> s(new Segment(files, dir, base_offset, index_interval_bytes));
  s->loaded_ = false;
  s->next_offset_ = next_offset;
  s->size_ = size;
  return s;
}

void Segment::ensure_loaded() {
  if (loaded_) return;
  loaded_ = true;
  if (!load()) {
    // The indexes are not sane (or a file is unreadable): rebuild them from
    // the log, as recovery would. A sealed segment below the recovery point
    // is whole, so nothing should be cut; if I/O fails, lookups find nothing.
    bool cut = false;
    if (!recover(cut)) reset_state();
  }
  // A sealed segment's entries are in memory now: its index files need no
  // descriptor (erase() closes them unless someone holds them).
  index_.release();
  time_index_.release();
}

FileCache::OpenResult Segment::log_file() const {
  if (pin_) return {pin_, 0};
  return files_->get(log_path_);
}

FileCache::OpenResult Segment::log_file_for_read() const {
  if (pin_) return {pin_, 0};
  return files_->get_for_read(log_path_);
}

void Segment::reset_state() {
  next_offset_ = base_offset_;
  size_ = 0;
  bytes_since_index_ = 0;
  max_timestamp_ = -1;
  offset_of_max_timestamp_ = -1;
}

bool Segment::track(const BatchHeader& h) {
  // Same rule as Kafka's LogSegment.append: an index entry once more than
  // index.interval.bytes have been written since the last one.
  if (bytes_since_index_ > static_cast<uint64_t>(index_interval_bytes_)) {
    if (!index_.append(h.base_offset, static_cast<uint32_t>(h.position))) return false;
    if (offset_of_max_timestamp_ >= 0 && !time_index_.append(max_timestamp_, offset_of_max_timestamp_)) return false;
    bytes_since_index_ = 0;
  }
  if (h.max_timestamp > max_timestamp_) {
    max_timestamp_ = h.max_timestamp;
    offset_of_max_timestamp_ = h.base_offset;
  }
  bytes_since_index_ += h.size;
  next_offset_ = h.last_offset + 1;
  size_ = h.position + h.size;
  return true;
}

std::optional<BatchHeader> Segment::read_header(uint64_t position) const {
  if (position + kBatchHeaderSize > size_) return std::nullopt;
  auto log = log_file();
  std::array<uint8_t, kBatchHeaderSize> raw;
  if (!log || !env_->pread(*log.file, position, raw)) return std::nullopt;
  BatchView v(raw);
  if (v.batch_length() < static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead)) return std::nullopt;
  if (position + v.size() > size_ || v.last_offset_delta() < 0) return std::nullopt;
  bool unreliable = !v.log_append_time() && v.max_timestamp() < v.base_timestamp();
  return BatchHeader{position,
                     v.size(),
                     v.base_offset(),
                     v.last_offset(),
                     v.max_timestamp(),
                     unreliable,
                     v.partition_leader_epoch(),
                     v.producer_id(),
                     v.producer_epoch(),
                     v.base_sequence(),
                     v.is_control(),
                     v.is_transactional()};
}

bool Segment::read_batch(const BatchHeader& h, std::vector<uint8_t>& out) const {
  out.resize(h.size);
  auto log = log_file();
  return log && env_->pread(*log.file, h.position, out);
}

int64_t Segment::max_timestamp_from_records(const BatchHeader& h) const {
  std::vector<uint8_t> batch(h.size);
  auto log = log_file();
  if (!log || !env_->pread(*log.file, h.position, batch)) return h.max_timestamp;
  return protocol::max_timestamp_from_records(batch, scratch_).value_or(h.max_timestamp);
}

bool Segment::load() {
  loaded_ = true;
  reset_state();
  auto log = log_file();
  if (!log) return false;
  int64_t file_size = env_->size(*log.file);
  if (file_size < 0 || static_cast<uint64_t>(file_size) > kMaxSegmentPosition) return false;
  size_ = static_cast<uint64_t>(file_size);
  if (!index_.open() || !time_index_.open() || !index_.load(size_)) return false;
  auto start = index_.entries().empty() ? OffsetIndex::Entry{base_offset_, 0} : index_.entries().back();
  // Replay only the tail past the last index entry, headers only.
  next_offset_ = start.offset;
  for (uint64_t pos = start.position; pos < size_;) {
    auto h = read_header(pos);
    if (!h || h->base_offset < next_offset_ ||
        h->last_offset - base_offset_ > static_cast<int64_t>(kMaxSegmentPosition))
      return false;
    if (h->max_timestamp_unreliable) h->max_timestamp = max_timestamp_from_records(*h);
    if (h->max_timestamp > max_timestamp_) {
      max_timestamp_ = h->max_timestamp;
      offset_of_max_timestamp_ = h->base_offset;
    }
    bytes_since_index_ += h->size;
    next_offset_ = h->last_offset + 1;
    pos += h->size;
  }
  if (!time_index_.load(next_offset_)) return false;
  if (auto last = time_index_.last(); last && last->timestamp > max_timestamp_) {
    max_timestamp_ = last->timestamp;
    offset_of_max_timestamp_ = last->offset;
  }
  return true;
}

bool Segment::recover(bool& truncated) {
  loaded_ = true;
  truncated = false;
  reset_state();
  auto log_result = log_file();
  if (!log_result) return false;
  const FileHandle& log = *log_result.file;
  if (!index_.open() || !time_index_.open() || !index_.clear() || !time_index_.clear()) return false;
  int64_t file_size = env_->size(log);
  if (file_size < 0) return false;
  uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(file_size), kMaxSegmentPosition);
  std::vector<uint8_t> batch;
  uint64_t pos = 0;
  while (pos < end) {
    std::array<uint8_t, kBatchLogOverhead> prefix;
    if (end - pos < kBatchHeaderSize || !env_->pread(log, pos, prefix)) break;
    int32_t length = static_cast<int32_t>(load_be32(prefix.data() + 8));
    if (length < static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead)) break;
    uint64_t size = static_cast<uint64_t>(length) + kBatchLogOverhead;
    if (size > end - pos) break;
    // Checking the CRC is the one place where batch bytes are read into memory.
    batch.resize(size);
    if (!env_->pread(log, pos, batch)) break;
    if (protocol::validate_batch(batch, protocol::BatchOrigin::Replication) != ErrorCode::NONE) break;
    BatchView v(batch);
    if (v.base_offset() < next_offset_ || v.last_offset() - base_offset_ > static_cast<int64_t>(kMaxSegmentPosition))
      break;
    // Not the header's max timestamp: an older runnel stored it as the producer
    // sent it, possibly -1, which would hide the batch from ListOffsets and
    // from time retention.
    int64_t max_ts = protocol::max_timestamp_from_records(batch, scratch_).value_or(v.max_timestamp());
    if (!track({pos, static_cast<uint32_t>(size), v.base_offset(), v.last_offset(), max_ts})) return false;
    pos += size;
  }
  if (pos != static_cast<uint64_t>(file_size)) {
    truncated = true;
    if (!env_->truncate(log, pos)) return false;
  }
  return true;
}

bool Segment::append(std::span<const uint8_t> bytes, std::span<const protocol::BatchExtent> batches, int* error) {
  ensure_loaded();
  if (size_ + bytes.size() > kMaxSegmentPosition) {
    if (error) *error = EFBIG;
    return false;
  }
  auto log = log_file();
  if (!log) {
    if (error) *error = log.error;
    return false;
  }
  errno = 0;
  if (!env_->pwrite(*log.file, size_, bytes)) {
    if (error) *error = errno ? errno : EIO;
    (void)env_->truncate(*log.file, size_);
    return false;
  }
  if (!pin_) {
    if (files_->try_pin()) {
      pin_ = log.file;
    } else if (!env_->sync(*log.file)) {
      // No pin to spare: the data must be durable before the handle may go.
      if (error) *error = EIO;
      (void)env_->truncate(*log.file, size_);
      return false;
    }
  }
  uint64_t start = size_;
  for (const auto& e : batches) {
    BatchView v(bytes.subspan(e.position, e.size));
    if (!track(
            {start + e.position, static_cast<uint32_t>(e.size), v.base_offset(), v.last_offset(), v.max_timestamp()}))
      return false;
  }
  return true;
}

bool Segment::truncate_to(int64_t offset) {
  ensure_loaded();
  if (offset >= next_offset_) return true;
  auto h = find(offset);
  uint64_t cut = h ? h->position : size_;
  auto log = log_file();
  if (!log) {
    errno = log.error;
    return false;
  }
  if (!env_->truncate(*log.file, cut)) return false;
  int64_t cut_offset = h ? h->base_offset : next_offset_;
  if (!index_.open() || !time_index_.open() || !index_.truncate_to_position(cut) ||
      !time_index_.truncate_to_offset(cut_offset))
    return false;
  // The in-memory state (size, next offset, max timestamp) comes back the way
  // a clean start reads it: the indexes plus the headers past their last entry.
  if (!load()) {
    bool ignored = false;
    return recover(ignored);
  }
  return true;
}

void Segment::seal() {
  ensure_loaded();
  if (offset_of_max_timestamp_ >= 0) (void)time_index_.append(max_timestamp_, offset_of_max_timestamp_);
  if (preallocated_) {
    // Cutting at the length releases the blocks reserved past it; nothing
    // written is cut. A failure only keeps the reservation.
    auto log = log_file();
    if (log.file && env_->truncate(*log.file, size_)) preallocated_ = false;
  }
}

std::optional<BatchHeader> Segment::find(int64_t offset) {
  ensure_loaded();
  uint64_t pos = index_.lookup(offset).position;
  while (auto h = read_header(pos)) {
    if (h->last_offset >= offset) return h;
    pos += h->size;
  }
  return std::nullopt;
}

std::optional<BatchHeader> Segment::find_timestamp(int64_t timestamp) {
  ensure_loaded();
  if (max_timestamp_ < timestamp) return std::nullopt;
  uint64_t pos = index_.lookup(time_index_.lookup(timestamp)).position;
  while (auto h = read_header(pos)) {
    if (h->max_timestamp_unreliable) h->max_timestamp = max_timestamp_from_records(*h);
    if (h->max_timestamp >= timestamp) return h;
    pos += h->size;
  }
  return std::nullopt;
}

bool Segment::sync() {
  auto log = log_file();
  auto index = index_.handle();
  auto time_index = time_index_.handle();
  bool ok = log && index && time_index && env_->sync(*log.file) && env_->sync(*index) && env_->sync(*time_index);
  if (ok && pin_ == log.file) release_pin();
  return ok;
}

std::vector<std::shared_ptr<const FileHandle>> Segment::sync_files(bool with_indexes) const {
  std::vector<std::shared_ptr<const FileHandle>> out{log_file().file};
  if (with_indexes) {
    out.push_back(index_.handle());
    out.push_back(time_index_.handle());
  }
  return out;
}

void Segment::rename_deleted(std::vector<std::filesystem::path>& renamed) {
  release_pin();
  files_->erase(log_path_);
  index_.release();
  time_index_.release();
  for (const char* ext : {".log", ".index", ".timeindex"}) {
    auto from = log_path_;
    from.replace_extension(ext);
    auto to = from;
    to += kDeletedSuffix;
    if (env_->rename(from, to))
      renamed.push_back(to);
    else
      (void)env_->remove(from);  // if that fails too, the segment is back at the next open()
  }
}

void Segment::remove() {
  release_pin();
  files_->erase(log_path_);
  (void)env_->remove(log_path_);  // if it fails, the segment is back at the next open()
  // Indexes without their log are removed by the next open().
  (void)index_.remove();
  (void)time_index_.remove();
}

}  // namespace runnel::storage
