#include "storage/log_cleaner.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/wrapping.h"
#include "protocol/compression.h"
#include "protocol/compressor.h"
#include "protocol/control_record.h"
#include "protocol/record_batch.h"
#include "storage/segment.h"

namespace runnel::storage {
namespace {

using protocol::BatchView;
using protocol::kBatchHeaderSize;
using protocol::kBatchLogOverhead;

constexpr int16_t kDeleteHorizonBit = 0x40;  // KIP-534: the base timestamp is the delete horizon
constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kWriteChunk = 1 << 20;

// Kafka's zigzag varints, bounds-checked.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  size_t left() const { return static_cast<size_t>(end - p); }
  bool varlong(int64_t& out) {
    uint64_t raw = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) return false;
      uint8_t b = *p++;
      raw |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        out = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
        return true;
      }
    }
    return false;
  }
  bool varint(int32_t& out) {
    int64_t v = 0;
    if (!varlong(v) || v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return false;
    out = static_cast<int32_t>(v);
    return true;
  }
  bool bytes(int32_t length, std::optional<std::span<const uint8_t>>& out) {
    if (length < 0) {
      out.reset();
      return true;
    }
    if (static_cast<size_t>(length) > left()) return false;
    out = std::span<const uint8_t>(p, static_cast<size_t>(length));
    p += length;
    return true;
  }
};

void put_varlong(std::vector<uint8_t>& out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<uint8_t>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<uint8_t>(z));
}

// One record of a batch, as it lies in the (decompressed) records.
struct RawRecord {
  std::span<const uint8_t> whole;  // length prefix included
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  std::span<const uint8_t> after_timestamp;  // offsetDelta .. end of the record
  int32_t offset_delta = 0;
  std::optional<std::span<const uint8_t>> key;
  bool has_value = false;
};

// Parses `count` records whose offset deltas go up to `max_delta`; false on
// anything malformed.
bool parse_records(std::span<const uint8_t> body, int32_t count, int32_t max_delta, std::vector<RawRecord>& out) {
  out.clear();
  if (count < 0) return false;
  Cursor c{body.data(), body.data() + body.size()};
  int32_t previous_delta = -1;
  for (int32_t i = 0; i < count; ++i) {
    const uint8_t* start = c.p;
    int32_t length = 0;
    if (!c.varint(length) || length < 1 || static_cast<size_t>(length) > c.left()) return false;
    Cursor r{c.p, c.p + length};
    c.p += length;
    RawRecord rec;
    rec.whole = std::span<const uint8_t>(start, static_cast<size_t>(c.p - start));
    rec.attributes = static_cast<int8_t>(*r.p++);
    if (!r.varlong(rec.timestamp_delta)) return false;
    rec.after_timestamp = std::span<const uint8_t>(r.p, r.left());
    int32_t key_length = 0, value_length = 0;
    std::optional<std::span<const uint8_t>> value;
    if (!r.varint(rec.offset_delta) || !r.varint(key_length) || !r.bytes(key_length, rec.key) ||
        !r.varint(value_length) || !r.bytes(value_length, value))
      return false;
    // Offsets inside a batch only go up; the cleaner relies on it for the
    // last offset of what it keeps.
    if (rec.offset_delta <= previous_delta || rec.offset_delta > max_delta) return false;
    previous_delta = rec.offset_delta;
    rec.has_value = value.has_value();
    out.push_back(rec);
  }
  return true;
}

// The uncompressed records of a checked batch: the body itself, or the
// body decompressed into `scratch`. Throws on a body that does not inflate.
std::span<const uint8_t> records_of(std::span<const uint8_t> batch, std::vector<uint8_t>& scratch) {
  BatchView v(batch);
  auto body = batch.subspan(kBatchHeaderSize);
  if (v.compression_id() == 0) return body;
  protocol::decompress_into(v.compression_id(), body, scratch);
  return scratch;
}

// A batch header of our own making: `base` supplies everything not given.
void build_batch(const BatchView& base, int16_t attributes, int64_t base_timestamp, int64_t max_timestamp,
                 int32_t count, std::span<const uint8_t> body, std::vector<uint8_t>& out) {
  size_t at = out.size();
  out.resize(at + kBatchHeaderSize);
  uint8_t* h = out.data() + at;
  store_be64(h + 0, static_cast<uint64_t>(base.base_offset()));
  store_be32(h + 8, static_cast<uint32_t>(kBatchHeaderSize - kBatchLogOverhead + body.size()));
  store_be32(h + 12, static_cast<uint32_t>(base.partition_leader_epoch()));
  h[16] = static_cast<uint8_t>(protocol::kBatchMagicV2);
  store_be16(h + 21, static_cast<uint16_t>(attributes));
  store_be32(h + 23, static_cast<uint32_t>(base.last_offset_delta()));
  store_be64(h + 27, static_cast<uint64_t>(base_timestamp));
  store_be64(h + 35, static_cast<uint64_t>(max_timestamp));
  store_be64(h + 43, static_cast<uint64_t>(base.producer_id()));
  store_be16(h + 51, static_cast<uint16_t>(base.producer_epoch()));
  store_be32(h + 53, static_cast<uint32_t>(base.base_sequence()));
  store_be32(h + 57, static_cast<uint32_t>(count));
  out.insert(out.end(), body.begin(), body.end());
  uint32_t crc = crc32c(std::span<const uint8_t>(out.data() + at + 21, out.size() - at - 21));
  store_be32(out.data() + at + 17, crc);
}

}  // namespace

// ---------------------------------------------------------------- transactions

void TxnCleanState::consume_up_to(int64_t offset) {
  while (next_ < pending_.size() && pending_[next_].first_offset <= offset) {
    aborted_.try_emplace(pending_[next_].producer_id, Ongoing{pending_[next_], false});
    ++next_;
  }
}

bool TxnCleanState::on_data_batch(int64_t producer_id, bool transactional, int64_t last_offset) {
  consume_up_to(last_offset);
  if (!transactional) return false;
  if (auto it = aborted_.find(producer_id); it != aborted_.end()) {
    it->second.observed = true;
    return true;
  }
  committed_[producer_id] = true;
  return false;
}

bool TxnCleanState::on_control_batch(std::span<const uint8_t> batch, std::vector<AbortedTxn>* kept_aborted) {
  BatchView v(batch);
  consume_up_to(v.last_offset());
  // An empty control batch was cleaned before: nothing refers to it.
  if (v.record_count() == 0) return true;
  auto marker = protocol::parse_txn_marker(batch);
  if (!marker) return false;  // another control record: kept
  if (!marker->commit) {
    auto it = aborted_.find(v.producer_id());
    if (it == aborted_.end()) return true;
    bool observed = it->second.observed;
    // Kept until every batch of the transaction is gone: this pass drops
    // them, the next one may drop the marker.
    if (observed && kept_aborted) kept_aborted->push_back(it->second.txn);
    aborted_.erase(it);
    return !observed;
  }
  return committed_.erase(v.producer_id()) == 0;
}

// ---------------------------------------------------------------- one batch

bool map_batch(std::span<const uint8_t> batch, int64_t from, OffsetMap& map, std::vector<uint8_t>& scratch, bool& bad) {
  bad = false;
  BatchView v(batch);
  std::vector<RawRecord> records;
  try {
    if (!parse_records(records_of(batch, scratch), v.record_count(), v.last_offset_delta(), records)) {
      bad = true;
      return false;
    }
  } catch (const std::exception&) {
    bad = true;
    return false;
  }
  for (const auto& r : records) {
    int64_t offset = v.base_offset() + r.offset_delta;
    if (!r.key || offset < from) continue;
    if (!map.put(*r.key, offset)) return false;
  }
  return true;
}

bool filter_batch(std::span<const uint8_t> batch, BatchFilterContext& ctx, std::vector<uint8_t>& out) {
  BatchView v(batch);
  const bool control = v.is_control();
  const int64_t pid = v.producer_id();
  const bool can_discard = control ? ctx.txns->on_control_batch(batch, ctx.kept_aborted)
                                   : ctx.txns->on_data_batch(pid, v.is_transactional(), v.last_offset());
  const bool has_horizon = v.attributes() & kDeleteHorizonBit;
  const int64_t horizon = has_horizon ? v.base_timestamp() : -1;
  const bool discard_records = control ? can_discard && has_horizon && horizon <= ctx.now_ms : can_discard;
  bool last_of_producer = false;
  if (pid >= 0 && ctx.producers) {
    if (auto it = ctx.producers->find(pid); it != ctx.producers->end()) {
      last_of_producer = it->second.last_data_offset >= 0 ? v.last_offset() == it->second.last_data_offset
                                                          : control && v.producer_epoch() == it->second.epoch;
    }
  }
  // Kafka's BatchRetention: the last batch of an active producer keeps its
  // sequence and epoch; the last batch of the round keeps the offset where
  // the round ended.
  const bool retain_empty = last_of_producer || v.next_offset() == ctx.round_end;
  if (discard_records && !retain_empty) {
    ctx.records_read += static_cast<uint64_t>(std::max(0, v.record_count()));
    return true;
  }

  std::vector<RawRecord> records;
  std::span<const uint8_t> body;
  try {
    body = records_of(batch, ctx.scratch);
  } catch (const std::exception&) {
    return false;
  }
  if (!parse_records(body, v.record_count(), v.last_offset_delta(), records)) return false;

  std::vector<const RawRecord*> kept;
  bool tombstones = false;
  for (const auto& r : records) {
    ++ctx.records_read;
    bool keep;
    if (discard_records) {
      keep = false;
    } else if (control) {
      keep = true;
    } else {
      int64_t offset = v.base_offset() + r.offset_delta;
      if (offset > ctx.map->latest_offset()) {
        keep = true;  // past what the map covers: not looked at this round
      } else if (!r.key) {
        keep = false;  // a keyless record cannot be in a compacted topic
      } else {
        bool latest = offset >= ctx.map->get(*r.key);
        bool retained_value = r.has_value || !has_horizon || ctx.now_ms < horizon;
        keep = latest && retained_value;
      }
    }
    if (!keep) continue;
    kept.push_back(&r);
    tombstones |= !r.has_value;
  }
  ctx.records_retained += kept.size();

  if (kept.empty()) {
    if (!retain_empty) return true;
    // Kafka's writeEmptyHeader: no records, no codec, the max timestamp as
    // both timestamps, every producer field and the last offset delta kept.
    int16_t attributes = static_cast<int16_t>(v.attributes() & 0x38);
    build_batch(v, attributes, v.max_timestamp(), v.max_timestamp(), 0, {}, out);
    return true;
  }

  const bool marker_for_empty_txn = can_discard && control;
  const bool need_horizon = (tombstones || marker_for_empty_txn) && !has_horizon;
  if (kept.size() == records.size() && !need_horizon) {
    out.insert(out.end(), batch.begin(), batch.end());
    if (has_horizon && (tombstones || marker_for_empty_txn))
      ctx.next_horizon_ms = std::min(ctx.next_horizon_ms, horizon);
    return true;
  }

  const int64_t old_base = v.base_timestamp();
  int64_t new_base = old_base;
  int16_t attributes = v.attributes();
  if (need_horizon) {
    new_base = wrapping_add(ctx.now_ms, ctx.delete_retention_ms);
    if (ctx.delete_retention_ms > std::numeric_limits<int64_t>::max() - ctx.now_ms)
      new_base = std::numeric_limits<int64_t>::max();
    attributes = static_cast<int16_t>(attributes | kDeleteHorizonBit);
  }
  if ((attributes & kDeleteHorizonBit) && (tombstones || marker_for_empty_txn))
    ctx.next_horizon_ms = std::min(ctx.next_horizon_ms, new_base);

  std::vector<uint8_t> plain;
  plain.reserve(body.size());
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  std::vector<uint8_t> inner;
  for (const RawRecord* r : kept) {
    // Two's-complement arithmetic, as Java's long.
    int64_t ts = wrapping_add(old_base, r->timestamp_delta);
    max_ts = std::max(max_ts, ts);
    if (new_base == old_base) {
      plain.insert(plain.end(), r->whole.begin(), r->whole.end());
      continue;
    }
    inner.clear();
    inner.push_back(static_cast<uint8_t>(r->attributes));
    put_varlong(inner, static_cast<int64_t>(static_cast<uint64_t>(ts) - static_cast<uint64_t>(new_base)));
    inner.insert(inner.end(), r->after_timestamp.begin(), r->after_timestamp.end());
    put_varlong(plain, static_cast<int64_t>(inner.size()));
    plain.insert(plain.end(), inner.begin(), inner.end());
  }
  if (v.log_append_time()) max_ts = v.max_timestamp();

  const int codec = v.compression_id();
  std::vector<uint8_t> compressed;
  if (codec != 0) {
    try {
      compressed = protocol::compress(
          codec, plain,
          ctx.compression_levels ? ctx.compression_levels[codec] : protocol::default_compression_level(codec));
    } catch (const std::exception&) {
      return false;
    }
  }
  build_batch(v, attributes, new_base, max_ts, static_cast<int32_t>(kept.size()), codec ? compressed : plain, out);
  return true;
}

// ---------------------------------------------------------------- files

namespace {

// Reads the batches of one closed segment, in chunks, checking each as
// recovery does.
class SegmentScanner {
 public:
  SegmentScanner(Env* env, const std::filesystem::path& dir, const CleanerSegment& seg)
      : env_(env), path_(dir / (Segment::file_stem(seg.base_offset) + ".log")), seg_(seg) {}

  bool open(std::string& error) {
    file_ = env_->open(path_, /*create=*/false);
    if (!file_) {
      error = "cannot open " + path_.string() + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }
  // 1: a batch in `batch`; 0: the end; -1: an error (in `error`).
  int next(std::span<const uint8_t>& batch, std::string& error) {
    if (pos_ >= seg_.size) return 0;
    if (seg_.size - pos_ < kBatchHeaderSize) return fail(error, "a torn batch");
    if (!ensure(pos_, kBatchLogOverhead, error)) return -1;
    int32_t length = static_cast<int32_t>(load_be32(at(pos_) + 8));
    if (length < static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead)) return fail(error, "a bad batch length");
    uint64_t size = static_cast<uint64_t>(length) + kBatchLogOverhead;
    if (size > seg_.size - pos_) return fail(error, "a batch running past the end");
    if (!ensure(pos_, size, error)) return -1;
    batch = std::span<const uint8_t>(at(pos_), size);
    const char* reason = nullptr;
    if (protocol::validate_batch(batch, protocol::BatchOrigin::Replication, reason) != ErrorCode::NONE)
      return fail(error, reason ? reason : "an invalid batch");
    BatchView v(batch);
    if (v.base_offset() < next_offset_ || v.last_offset() >= seg_.end_offset)
      return fail(error, "offsets out of order");
    next_offset_ = v.next_offset();
    pos_ += size;
    return 1;
  }
  uint64_t position() const { return pos_; }
  // Whether next() failed on the bytes rather than on reading them.
  bool corrupt() const { return corrupt_; }

 private:
  int fail(std::string& error, const std::string& what) {
    corrupt_ = true;
    error = path_.string() + " at position " + std::to_string(pos_) + ": " + what;
    return -1;
  }
  const uint8_t* at(uint64_t pos) const { return buf_.data() + (pos - buf_pos_); }
  bool ensure(uint64_t pos, uint64_t n, std::string& error) {
    if (pos >= buf_pos_ && pos + n <= buf_pos_ + buf_.size()) return true;
    uint64_t len = std::min<uint64_t>(std::max<uint64_t>(n, kReadChunk), seg_.size - pos);
    buf_.resize(len);
    buf_pos_ = pos;
    if (!env_->pread(*file_, pos, buf_)) {
      buf_.clear();
      error = "cannot read " + path_.string() + ": " + std::strerror(errno ? errno : EIO);
      return false;
    }
    return true;
  }

  Env* env_;
  std::filesystem::path path_;
  CleanerSegment seg_;
  std::shared_ptr<FileHandle> file_;
  std::vector<uint8_t> buf_;
  uint64_t buf_pos_ = 0;
  uint64_t pos_ = 0;
  int64_t next_offset_ = std::numeric_limits<int64_t>::min();
  bool corrupt_ = false;
};

// Writes a cleaned segment and its indexes (the layouts of FORMAT.md, with
// the entries Segment would make for the same batches).
class CleanedWriter {
 public:
  CleanedWriter(Env* env, const std::filesystem::path& dir, int64_t base, int32_t index_interval)
      : env_(env), base_(base), index_interval_(index_interval) {
    std::string stem = Segment::file_stem(base);
    for (const char* suffix : {".log", ".index", ".timeindex", kTxnIndexSuffix})
      paths_.push_back(dir / (stem + suffix + kCleanedSuffix));
  }
  bool open(std::string& error) {
    for (auto& p : paths_) {
      auto f = env_->open(p, /*create=*/true);
      if (!f || !env_->truncate(*f, 0)) return fail(error, p);
      files_.push_back(std::move(f));
    }
    return true;
  }
  bool append(std::span<const uint8_t> batch, std::string& error) {
    BatchView v(batch);
    uint64_t position = size_ + 0;
    if (bytes_since_index_ > static_cast<uint64_t>(index_interval_)) {
      add_index(v.base_offset(), static_cast<uint32_t>(position));
      if (offset_of_max_ >= 0) add_time(max_ts_, offset_of_max_);
      bytes_since_index_ = 0;
    }
    if (v.max_timestamp() > max_ts_) {
      max_ts_ = v.max_timestamp();
      offset_of_max_ = v.base_offset();
    }
    bytes_since_index_ += batch.size();
    pending_.insert(pending_.end(), batch.begin(), batch.end());
    size_ += batch.size();
    if (size_ > std::numeric_limits<uint32_t>::max()) {
      error = "cleaned segment over 4 GiB";
      return false;
    }
    return pending_.size() < kWriteChunk || flush(error);
  }
  bool finish(const std::vector<AbortedTxn>& aborted, std::string& error) {
    if (!flush(error)) return false;
    if (offset_of_max_ >= 0) add_time(max_ts_, offset_of_max_);
    auto txn = encode_aborted_txns(aborted);
    if (!env_->pwrite(*files_[1], 0, index_) || !env_->pwrite(*files_[2], 0, time_index_) ||
        !env_->pwrite(*files_[3], 0, txn))
      return fail(error, paths_[1]);
    for (size_t i = 0; i < files_.size(); ++i)
      if (!env_->sync(*files_[i])) return fail(error, paths_[i]);
    return true;
  }
  void discard() {
    files_.clear();
    for (auto& p : paths_) (void)env_->remove(p);  // open() removes `.cleaned` leftovers
  }
  uint64_t size() const { return size_; }
  uint64_t written() const { return written_; }

 private:
  bool fail(std::string& error, const std::filesystem::path& p) {
    error = "cannot write " + p.string() + ": " + std::strerror(errno ? errno : EIO);
    return false;
  }
  bool flush(std::string& error) {
    if (pending_.empty()) return true;
    if (!env_->pwrite(*files_[0], flushed_, pending_)) return fail(error, paths_[0]);
    flushed_ += pending_.size();
    written_ += pending_.size();
    pending_.clear();
    return true;
  }
  void add_index(int64_t offset, uint32_t position) {
    if (last_index_offset_ >= offset || (last_index_offset_ >= 0 && last_index_position_ >= position)) return;
    uint8_t raw[8];
    store_be32(raw, static_cast<uint32_t>(offset - base_));
    store_be32(raw + 4, position);
    index_.insert(index_.end(), raw, raw + 8);
    last_index_offset_ = offset;
    last_index_position_ = position;
  }
  void add_time(int64_t ts, int64_t offset) {
    if (!time_index_.empty() && (ts <= last_time_ || offset <= last_time_offset_)) return;
    uint8_t raw[12];
    store_be64(raw, static_cast<uint64_t>(ts));
    store_be32(raw + 8, static_cast<uint32_t>(offset - base_));
    time_index_.insert(time_index_.end(), raw, raw + 12);
    last_time_ = ts;
    last_time_offset_ = offset;
  }

  Env* env_;
  int64_t base_;
  int32_t index_interval_;
  std::vector<std::filesystem::path> paths_;  // log, index, timeindex, txnindex
  std::vector<std::shared_ptr<FileHandle>> files_;
  std::vector<uint8_t> pending_;
  uint64_t size_ = 0, flushed_ = 0, written_ = 0;
  uint64_t bytes_since_index_ = 0;
  int64_t max_ts_ = -1, offset_of_max_ = -1;
  std::vector<uint8_t> index_, time_index_;
  int64_t last_index_offset_ = -1;
  uint32_t last_index_position_ = 0;
  int64_t last_time_ = 0, last_time_offset_ = 0;
};

}  // namespace

// ---------------------------------------------------------------- a round

CleanResult LogCleaner::clean(const CleanPlan& plan, const SwapFn& swap) {
  CleanResult result;
  auto stopped = [this] { return stop_ && stop_->load(); };
  auto throttle = [this](uint64_t bytes) {
    if (throttler_) throttler_->throttle(bytes, stop_);
  };
  if (plan.segments.empty()) {
    result.error = "nothing to clean";
    return result;
  }

  // 1. The offset map over the dirty section.
  map_->clear();
  map_->set_latest_offset(plan.first_dirty - 1);
  {
    std::vector<AbortedTxn> dirty_aborted;
    for (const auto& t : plan.aborted)
      if (t.last_offset >= plan.first_dirty) dirty_aborted.push_back(t);
    TxnCleanState txns(std::move(dirty_aborted));
    std::vector<uint8_t> scratch;
    bool full = false;
    for (const auto& seg : plan.segments) {
      if (full) break;
      if (seg.end_offset <= plan.first_dirty) continue;
      SegmentScanner scan(env_, plan.dir, seg);
      if (!scan.open(result.error)) return result;
      std::span<const uint8_t> batch;
      int got;
      while ((got = scan.next(batch, result.error)) == 1) {
        if (stopped()) {
          result.error = "stopped";
          return result;
        }
        throttle(batch.size());
        result.stats.bytes_read += batch.size();
        BatchView v(batch);
        if (v.is_control()) {
          (void)txns.on_control_batch(batch, nullptr);
        } else if (!txns.on_data_batch(v.producer_id(), v.is_transactional(), v.last_offset()) &&
                   v.last_offset() >= plan.first_dirty) {
          bool bad = false;
          if (!map_batch(batch, plan.first_dirty, *map_, scratch, bad)) {
            if (bad) {
              result.permanent = true;
              result.error = plan.dir.string() + ": records of the batch at offset " + std::to_string(v.base_offset()) +
                             " cannot be read";
              return result;
            }
            full = true;
            break;
          }
        }
        if (v.last_offset() >= plan.first_dirty) map_->update_latest_offset(v.last_offset());
      }
      if (got < 0) {
        result.permanent = scan.corrupt();
        return result;
      }
      // Offsets missing at the end of a segment (compacted away) are covered too.
      if (!full) map_->update_latest_offset(seg.end_offset - 1);
    }
  }
  const int64_t end = map_->latest_offset() + 1;
  if (end <= plan.first_dirty && plan.first_dirty < plan.first_uncleanable) {
    result.error = "log.cleaner.dedupe.buffer.size holds too few keys for one batch";
    result.permanent = true;
    return result;
  }

  // 2. The segments up to the map's end, in groups under segment.bytes.
  std::vector<std::vector<CleanerSegment>> groups;
  for (size_t i = 0; i < plan.segments.size() && plan.segments[i].base_offset < end;) {
    std::vector<CleanerSegment> group{plan.segments[i]};
    uint64_t bytes = plan.segments[i].size;
    ++i;
    while (i < plan.segments.size() && plan.segments[i].base_offset < end &&
           bytes + plan.segments[i].size <= static_cast<uint64_t>(std::max<int64_t>(plan.max_group_bytes, 0)) &&
           plan.segments[i].end_offset - 1 - group.front().base_offset <= std::numeric_limits<int32_t>::max()) {
      bytes += plan.segments[i].size;
      group.push_back(plan.segments[i]);
      ++i;
    }
    groups.push_back(std::move(group));
  }

  // 3. Each group rewritten and swapped in.
  TxnCleanState txns(plan.aborted);
  BatchFilterContext ctx;
  ctx.map = map_;
  ctx.txns = &txns;
  ctx.producers = &plan.producers;
  ctx.now_ms = plan.now_ms;
  ctx.delete_retention_ms = plan.delete_retention_ms;
  ctx.round_end = plan.first_uncleanable;
  ctx.compression_levels = plan.compression_levels;
  std::vector<uint8_t> out;
  for (const auto& group : groups) {
    std::vector<AbortedTxn> kept_aborted;
    ctx.kept_aborted = &kept_aborted;
    CleanedWriter writer(env_, plan.dir, group.front().base_offset, plan.index_interval_bytes);
    if (!writer.open(result.error)) {
      writer.discard();
      return result;
    }
    auto abandon = [&](std::string why) {
      writer.discard();
      result.error = std::move(why);
      return result;
    };
    for (const auto& seg : group) {
      SegmentScanner scan(env_, plan.dir, seg);
      std::string error;
      if (!scan.open(error)) return abandon(error);
      std::span<const uint8_t> batch;
      int got;
      while ((got = scan.next(batch, error)) == 1) {
        if (stopped()) return abandon("stopped");
        throttle(batch.size());
        result.stats.bytes_read += batch.size();
        out.clear();
        if (!filter_batch(batch, ctx, out)) {
          result.permanent = true;
          return abandon(plan.dir.string() + ": records of the batch at offset " +
                         std::to_string(BatchView(batch).base_offset()) + " cannot be read");
        }
        if (out.empty()) {
          ++result.stats.batches_dropped;
          continue;
        }
        throttle(out.size());
        if (!writer.append(out, error)) return abandon(error);
      }
      if (got < 0) {
        result.permanent = scan.corrupt();
        return abandon(error);
      }
    }
    std::string error;
    if (!writer.finish(kept_aborted, error)) return abandon(error);
    result.stats.bytes_written += writer.written();
    CleanedGroup cleaned{plan.dir, plan.log_id, group, writer.size(), kept_aborted};
    if (stopped()) return abandon("stopped");
    auto outcome = swap(cleaned);
    if (outcome == SwapOutcome::Refused) return abandon("the log changed while it was cleaned; the round is abandoned");
    if (outcome == SwapOutcome::Failed) {
      result.error = "the swap of the cleaned segment failed; the next start completes it";
      return result;
    }
    ++result.stats.groups_swapped;
  }
  result.stats.records_read = ctx.records_read;
  result.stats.records_retained = ctx.records_retained;
  result.ok = true;
  result.cleaned_through = end;
  result.next_horizon_ms = ctx.next_horizon_ms;
  return result;
}

}  // namespace runnel::storage
