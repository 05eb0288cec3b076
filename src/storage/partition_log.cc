// PartitionLog: appends (as leader, as follower, transaction markers),
// reads, retention, syncs and close. Opening is in partition_log_load.cc,
// compaction in partition_log_cleaning.cc; the state is
// partition_log_impl.h's.
#include "storage/partition_log_impl.h"

namespace runnel::storage {

PartitionLog::~PartitionLog() = default;

AppendResult PartitionLog::append(std::span<uint8_t> batches, LeaderEpoch leader_epoch, int64_t now_ms,
                                  const TxnVerification& verification) {
  Impl& m = *impl_;
  m.last_now_ms = std::max(m.last_now_ms, now_ms);
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto& extents = m.extents;
  result.error =
      protocol::split_batches(batches, extents, static_cast<size_t>(std::max(0, m.config.max_message_bytes)));
  if (result.error == ErrorCode::NONE && extents.empty()) result.error = ErrorCode::CORRUPT_MESSAGE;
  bool append_time = m.config.timestamp_type == TimestampType::LogAppendTime;
  if (result.error == ErrorCode::NONE) {
    protocol::BatchValidationConfig check;
    check.now_ms = now_ms;
    check.log_append_time = append_time;
    check.timestamp_before_max_ms = m.config.effective_timestamp_before_max_ms();
    check.timestamp_after_max_ms = m.config.effective_timestamp_after_max_ms();
    check.compacted = m.config.compact;
    for (const auto& e : extents) {
      auto batch = batches.subspan(e.position, e.size);
      auto v = protocol::validate_produced_batch(batch, check, m.inflated);
      if (v.error != ErrorCode::NONE) {
        result.error = v.error;
        result.error_message = std::move(v.message);
        result.record_errors = std::move(v.record_errors);
        return result;
      }
      // The header's max timestamp is what the time index, retention and
      // ListOffsets go by: take it from the records, not from the producer.
      if (!append_time) protocol::set_max_timestamp(batch, v.max_timestamp);
    }
  }
  if (result.error == ErrorCode::NONE && m.config.compression >= 0) {
    result.error = m.recompress(batches);
    if (result.error == ErrorCode::MESSAGE_TOO_LARGE)
      result.error_message = "A batch recompressed to the topic's compression.type exceeds max.message.bytes";
  }
  // Kafka: RecordBatchTooLargeException when one append exceeds segment.bytes.
  if (result.error == ErrorCode::NONE && batches.size() > static_cast<uint64_t>(m.config.segment_bytes))
    result.error = ErrorCode::RECORD_LIST_TOO_LARGE;
  if (result.error != ErrorCode::NONE) return result;

  // Idempotent producers: sequence and epoch checks, duplicates. Batches of
  // one producer in one call are checked against each other too, through a
  // scratch table of the producers the call touches.
  ProducerStateTable pending;
  bool idempotent = false;
  for (const auto& e : extents) {
    protocol::BatchView v(batches.subspan(e.position, e.size));
    if (v.producer_id() < 0 || v.is_control()) continue;
    idempotent = true;
    const int64_t pid = v.producer_id();
    const int32_t first_seq = v.base_sequence();
    const int32_t last_seq = last_sequence(first_seq, v.last_offset_delta());
    const ProducerStateTable& table = pending.find(pid) ? pending : m.producers;
    auto check = table.check(pid, v.producer_epoch(), first_seq, last_seq, v.is_transactional());
    if (check.duplicate) {
      // Kafka answers a retried batch with its original offsets and appends nothing.
      result.base_offset = check.duplicate->first_offset;
      result.last_offset = check.duplicate->last_offset;
      return result;
    }
    if (check.error != ErrorCode::NONE) {
      result.error = check.error;
      result.error_message = std::move(check.message);
      return result;
    }
    // KIP-890 (UnifiedLog.analyzeAndValidateProducerState): a transactional
    // batch opens a transaction here only under the guard of a verification
    // the coordinator confirmed (a batch before it in this call may have
    // opened it already).
    if (v.is_transactional() && !table.has_ongoing_txn(pid) && !m.producers.append_allowed(pid, verification)) {
      result.error = ErrorCode::INVALID_TXN_STATE;
      result.error_message = "Record was not part of an ongoing transaction";
      return result;
    }
    // ProducerAppendInfo.checkSequence: while the producer's transaction is
    // being verified, nothing above the lowest sequence seen goes in first.
    if (const VerificationEntry* ve = m.producers.verification(pid);
        ve && !verification.coordinator && !pending.find(pid) && first_seq > ve->lowest_seq) {
      result.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
      result.error_message = "Out of order sequence number for producer " + std::to_string(pid) + ": " +
                             std::to_string(first_seq) + " (incoming seq. number), " + std::to_string(ve->lowest_seq) +
                             " (earliest seen sequence)";
      return result;
    }
    if (!pending.find(pid))
      if (const ProducerEntry* current = m.producers.find(pid)) pending.put(pid, *current);
    pending.record(pid, v.producer_epoch(), first_seq, last_seq, 0, 0, -1, v.is_transactional());
  }

  int64_t next = m.end();
  for (const auto& e : extents) {
    auto batch = batches.subspan(e.position, e.size);
    int32_t delta = protocol::BatchView(batch).last_offset_delta();
    protocol::set_base_offset(batch, next);
    protocol::set_partition_leader_epoch(batch, leader_epoch.value());
    if (append_time) protocol::set_log_append_time(batch, now_ms);
    next += static_cast<int64_t>(delta) + 1;
  }
  if (!m.touch() || (m.should_roll(batches.size(), next - 1, now_ms) && !m.roll())) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  // The cache learns a new epoch before its first batch is written: a crash
  // in between leaves an entry at the log end, which open() drops.
  if (!m.epochs->assign(leader_epoch, Offset(m.end()))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  if (!m.active().append(batches, extents)) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    result.base_offset = -1;
    return result;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  if (idempotent)
    for (const auto& e : extents) m.record_batch(batches.subspan(e.position, e.size), m.active().base_offset());
  result.last_offset = m.end() - 1;
  result.log_append_time = append_time ? now_ms : -1;
  return result;
}

AppendResult PartitionLog::append_replicated(std::span<const uint8_t> batches, int64_t now_ms) {
  Impl& m = *impl_;
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto& extents = m.extents;
  extents.clear();
  int64_t next = m.end();
  size_t pos = 0;
  while (batches.size() - pos >= protocol::kBatchLogOverhead) {
    int64_t length = static_cast<int32_t>(load_be32(batches.data() + pos + 8));
    if (length < static_cast<int64_t>(protocol::kBatchHeaderSize - protocol::kBatchLogOverhead)) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      return result;
    }
    size_t size = protocol::kBatchLogOverhead + static_cast<size_t>(length);
    if (batches.size() - pos < size) break;  // partial: the next fetch brings it whole
    auto batch = batches.subspan(pos, size);
    const char* reason = nullptr;
    if (protocol::validate_batch(batch, protocol::BatchOrigin::Replication, reason) != ErrorCode::NONE) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      result.error_message = reason ? reason : "invalid batch";
      return result;
    }
    protocol::BatchView view(batch);
    // Gaps are allowed: a compacted leader log has them (Kafka's
    // appendAsFollower only asks offsets to increase).
    if (view.base_offset() < next) {
      result.error = ErrorCode::CORRUPT_MESSAGE;
      result.error_message = "replicated batch at offset " + std::to_string(view.base_offset()) +
                             " lies below the log end " + std::to_string(next);
      return result;
    }
    extents.push_back({pos, size});
    next = view.last_offset() + 1;
    pos += size;
  }
  if (extents.empty()) return result;
  auto whole = batches.subspan(0, pos);
  // Offsets must stay within a u32 of the segment's base (the indexes).
  // Only a compaction gap of over 2^31 offsets could break that; it is
  // refused rather than stored where recovery would cut it.
  const bool rolls = m.should_roll(whole.size(), next - 1, now_ms);
  if (next - 1 - (rolls ? m.end() : m.active().base_offset()) > partition_log_detail::kMaxRelativeOffset) {
    result.error = ErrorCode::CORRUPT_MESSAGE;
    result.error_message = "replicated batches end more than 2^31 offsets past the segment they would go to";
    return result;
  }
  if (!m.touch() || (rolls && !m.roll())) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  // Batch by batch where the epoch changes, so that the cache learns each
  // epoch before its first batch is on disk (as append() does).
  size_t run_begin = 0;
  while (run_begin < extents.size()) {
    int32_t epoch = protocol::BatchView(whole.subspan(extents[run_begin].position, extents[run_begin].size))
                        .partition_leader_epoch();
    size_t run_end = run_begin + 1;
    while (
        run_end < extents.size() &&
        protocol::BatchView(whole.subspan(extents[run_end].position, extents[run_end].size)).partition_leader_epoch() ==
            epoch)
      ++run_end;
    if (epoch >= 0 && !m.epochs->assign(LeaderEpoch(epoch), Offset(m.end()))) {
      result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return result;
    }
    size_t from = extents[run_begin].position;
    size_t to = extents[run_end - 1].position + extents[run_end - 1].size;
    std::vector<protocol::BatchExtent> run(extents.begin() + run_begin, extents.begin() + run_end);
    for (auto& e : run) e.position -= from;
    if (!m.active().append(whole.subspan(from, to - from), run)) {
      result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return result;
    }
    for (size_t i = run_begin; i < run_end; ++i)
      m.record_batch(whole.subspan(extents[i].position, extents[i].size), m.active().base_offset());
    run_begin = run_end;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  result.last_offset = m.end() - 1;
  return result;
}

AppendResult PartitionLog::append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                             const protocol::TxnMarker& marker, LeaderEpoch leader_epoch,
                                             int64_t now_ms) {
  Impl& m = *impl_;
  AppendResult result;
  result.log_start_offset = m.log_start;
  if (m.closed) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  auto check = m.producers.check_marker(producer_id, producer_epoch, marker.coordinator_epoch);
  if (check.error != ErrorCode::NONE) {
    result.error = check.error;
    result.error_message = std::move(check.message);
    return result;
  }
  auto batch = protocol::build_txn_marker_batch(producer_id, producer_epoch, marker, now_ms);
  protocol::set_base_offset(batch, m.end());
  protocol::set_partition_leader_epoch(batch, leader_epoch.value());
  const protocol::BatchExtent extent{0, batch.size()};
  if (!m.touch() || (m.should_roll(batch.size(), m.end(), now_ms) && !m.roll()) ||
      !m.epochs->assign(leader_epoch, Offset(m.end()))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return result;
  }
  result.base_offset = m.end();
  if (!m.active().append(batch, std::span(&extent, 1))) {
    result.error = ErrorCode::KAFKA_STORAGE_ERROR;
    result.base_offset = -1;
    return result;
  }
  if (m.active().first_append_ms < 0) m.active().first_append_ms = now_ms;
  m.record_batch(batch, m.active().base_offset());
  result.last_offset = result.base_offset;
  return result;
}

int64_t PartitionLog::last_stable_offset(int64_t high_watermark) const {
  const Impl& m = *impl_;
  int64_t lso = high_watermark;
  int64_t first_open = m.producers.first_ongoing_offset();
  if (first_open >= 0) lso = std::min(lso, first_open);
  for (const auto& txn : m.unstable)
    if (txn.last_offset >= high_watermark) lso = std::min(lso, txn.first_offset);
  return std::max(lso, std::min(m.log_start, high_watermark));
}

void PartitionLog::on_high_watermark(int64_t high_watermark) {
  auto& unstable = impl_->unstable;
  while (!unstable.empty() && unstable.front().last_offset < high_watermark) unstable.pop_front();
}

std::vector<AbortedTxn> PartitionLog::aborted_transactions(int64_t from, int64_t to) const {
  std::vector<AbortedTxn> out;
  // An entry lives in the segment of its marker, at or after `from`'s.
  const Impl& m = *impl_;
  if (m.aborted.empty()) return out;
  int64_t first_base = m.segments[m.segment_for(from)]->base_offset();
  for (auto it = m.aborted.lower_bound(first_base); it != m.aborted.end(); ++it)
    for (const auto& e : it->second)
      if (e.last_offset >= from && e.first_offset < to) out.push_back(e);
  return out;
}

ReadResult PartitionLog::read(int64_t offset, uint64_t max_bytes, bool min_one, int64_t limit_offset,
                              bool bounded) const {
  Impl& m = *impl_;
  ReadResult result;
  if (offset < m.log_start || offset > m.end()) {
    result.error = ErrorCode::OFFSET_OUT_OF_RANGE;
    return result;
  }
  if (offset >= limit_offset) return result;
  for (size_t i = m.segment_for(offset); i < m.segments.size(); ++i) {
    Segment& seg = *m.segments[i];
    // One handle for the slice; the cache cannot close it while the slice
    // holds it, however long the response waits for the socket.
    auto file = bounded ? seg.log_file_for_read() : seg.log_file();
    if (!file) {
      // EAGAIN: the shard's descriptors are held by responses on their way;
      // what was read so far (maybe nothing) is the answer, and the client's
      // next Fetch reads on from there.
      if (result.slices.empty() && file.error != EAGAIN) result.error = ErrorCode::KAFKA_STORAGE_ERROR;
      break;
    }
    auto h = seg.base_offset() <= offset ? seg.find(offset) : seg.read_header(0);
    FileSlice slice{file.file, h ? h->position : 0, 0};
    bool stop = false;
    for (; h; h = seg.read_header(h->position + h->size)) {
      // Nothing at or past the limit (the high watermark) may be seen.
      if (h->last_offset >= limit_offset) {
        stop = true;
        break;
      }
      if (result.bytes + h->size > max_bytes && (result.bytes > 0 || !min_one)) {
        stop = true;
        break;
      }
      slice.length += h->size;
      result.bytes += h->size;
      result.next_offset = h->last_offset + 1;
    }
    if (slice.length) result.slices.push_back(std::move(slice));
    if (stop) break;
  }
  return result;
}

int64_t PartitionLog::log_start_offset() const { return impl_->log_start; }

bool PartitionLog::truncate_to(Offset offset) {
  if (impl_->closed) {
    errno = EBADF;
    return false;
  }
  Impl& m = *impl_;
  if (offset.value() >= m.end()) {
    // Nothing to cut, but an epoch this replica assigned as leader at its log
    // end and never wrote in must go (Kafka's truncateTo does the same), or
    // the follower would name it as its last fetched epoch for ever.
    return m.epochs->truncate_from_end(Offset(m.end()));
  }
  return m.truncate_to(offset.value());
}

bool PartitionLog::truncate_fully_and_start_at(Offset offset) {
  Impl& m = *impl_;
  if (m.closed) {
    errno = EBADF;
    return false;
  }
  if (offset.value() <= m.end()) {
    errno = EINVAL;
    return false;
  }
  // The epochs go first: a crash at any later step leaves either the old log
  // (below the leader's start, so the next fetch starts over again) or the
  // new start, and that must not name an old epoch as its last.
  if (!m.touch() || !m.epochs->reset({}) || !write_checkpoint(*m.env, m.file(kLogStartOffsetFile), offset.value()))
    return false;
  int error = 0;
  auto fresh = m.try_new_segment(offset.value(), &error);
  if (!fresh) {
    errno = error;
    return false;
  }
  for (auto& s : m.segments) m.remove_segment(*s);
  m.segments.clear();
  m.unstable.clear();
  m.cut_cleaned_through(-1);
  m.segments.push_back(std::move(fresh));
  m.log_start = offset.value();
  // Snapshots of the old log lie below the new start: an unremoved one is never read.
  for (auto& [_, name] : m.list_snapshots()) (void)m.env->remove(m.dir / name);
  m.unsynced_snapshots.clear();
  m.durable_snapshot = -1;
  m.producers.clear();
  if (!m.sync_dir_and_name()) return false;
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();
  return m.write_recovery_point(m.end());
}

bool PartitionLog::assign_epoch(LeaderEpoch epoch) {
  Impl& m = *impl_;
  if (epoch <= m.epochs->latest_epoch().value_or(kUndefinedEpoch)) return true;
  return m.touch() && m.epochs->assign(epoch, Offset(m.end()));
}

std::optional<LeaderEpoch> PartitionLog::latest_epoch() const { return impl_->epochs->latest_epoch(); }

EpochEndOffset PartitionLog::end_offset_for_epoch(LeaderEpoch epoch) const {
  return impl_->epochs->end_offset_for(epoch, Offset(impl_->end()));
}

const std::vector<EpochEntry>& PartitionLog::epoch_entries() const { return impl_->epochs->entries(); }
int64_t PartitionLog::log_end_offset() const { return impl_->end(); }

int64_t PartitionLog::offset_for_timestamp(int64_t ts) const {
  for (const auto& seg : impl_->segments) {
    if (seg->max_timestamp() < ts) continue;
    if (auto h = seg->find_timestamp(ts)) return std::max(h->base_offset, impl_->log_start);
  }
  return -1;
}

std::pair<int64_t, int64_t> PartitionLog::max_timestamp_and_offset() const {
  std::pair<int64_t, int64_t> best{-1, -1};
  for (const auto& seg : impl_->segments)
    if (seg->max_timestamp() > best.first) best = {seg->max_timestamp(), seg->offset_of_max_timestamp()};
  return best;
}

int64_t PartitionLog::delete_records_before(int64_t offset) {
  Impl& m = *impl_;
  int64_t target = std::clamp(offset, m.log_start, m.end());
  if (target == m.log_start) return m.log_start;
  if (!m.touch()) return m.log_start;
  // Persisted before the start moves and any segment goes, so a restart
  // never shows the deleted records again; if it cannot be, nothing moves.
  if (!write_checkpoint(*m.env, m.file(kLogStartOffsetFile), target)) return m.log_start;
  m.log_start = target;
  // As in delete_front(): a stale entry below the start is trimmed at open().
  (void)m.epochs->truncate_from_start(Offset(m.log_start));
  while (m.segments.size() > 1 && m.segments.front()->next_offset() <= m.log_start) {
    if (!m.delete_front()) break;
  }
  return m.log_start;
}

void PartitionLog::enforce_retention(int64_t now_ms, int64_t high_watermark) {
  Impl& m = *impl_;
  if (m.closed) return;
  m.last_now_ms = std::max(m.last_now_ms, now_ms);
  m.remove_deleted_files(now_ms);
  m.producers.expire(now_ms - m.config.producer_id_expiration_ms);
  if (m.rolls_by_time(now_ms) && !m.roll())
    throw std::runtime_error("cannot roll the active segment in " + m.dir.string());
  // Time and size retention are the "delete" cleanup policy (Kafka: a
  // compact-only topic keeps its records however old or large). As in
  // Kafka's deletableSegments, the oldest segments go while their rule
  // holds, each only once the high watermark has passed its last record (so
  // the log start never gets ahead of it), the active one too when it holds
  // records: a roll first gives the log a new, empty segment to append to,
  // so that a quiet topic's records go after retention.ms, not at the next
  // segment.ms roll.
  auto front_deletable = [&m, high_watermark] {
    if (m.segments.size() > 1) return m.segments[1]->base_offset() <= high_watermark;
    return !m.active().empty() && m.end() <= high_watermark;
  };
  auto delete_oldest = [&m] {
    if (m.segments.size() == 1 && !m.roll()) return false;
    // The names of the segments that stay must be durable before an older
    // one goes: a power cut that took them all would begin the log again at
    // an older start, handing out offsets twice.
    if (m.dir_synced_through < m.active().base_offset()) {
      if (!m.sync_dir_and_name()) return false;
      m.dir_synced_through = m.active().base_offset();
    }
    return m.delete_front();
  };
  if (m.config.cleanup_delete && m.config.retention_ms >= 0) {
    // An empty closed segment (all its records compacted away) has no
    // timestamp to wait for.
    while (front_deletable() &&
           (m.segments.front()->empty() || (m.segments.front()->max_timestamp() >= 0 &&
                                            now_ms - m.segments.front()->max_timestamp() > m.config.retention_ms))) {
      if (!delete_oldest()) break;
    }
  }
  if (m.config.cleanup_delete && m.config.retention_bytes >= 0) {
    uint64_t total = size_bytes();
    while (front_deletable() && total - m.segments.front()->size() >= static_cast<uint64_t>(m.config.retention_bytes)) {
      total -= m.segments.front()->size();
      if (!delete_oldest()) break;
    }
  }
}

void PartitionLog::set_config(const LogConfig& config) { impl_->config = config; }
const LogConfig& PartitionLog::config() const { return impl_->config; }

Env& PartitionLog::env() const { return *impl_->env; }

PartitionLog::SyncRequest PartitionLog::sync_handles() {
  Impl& m = *impl_;
  SyncRequest request;
  request.durable_offset = m.end();
  request.sealed_below = m.active().base_offset();
  if (m.dir_synced_through < m.active().base_offset()) {
    // fdatasync of the directory makes the new segments' names durable; on
    // mark_flushed, sealed_below (the active base now) says how far.
    auto dir = m.files->get(m.dir, false, /*directory=*/true);
    request.files.push_back(dir.file);  // nullptr if it cannot be opened: the sync fails
    if (!m.name_durable) request.files.push_back(m.files->get(m.dir.parent_path(), false, /*directory=*/true).file);
  }
  for (const auto& seg : m.segments) {
    bool active = seg.get() == &m.active();
    if (!active && seg->base_offset() < m.sealed_below) continue;
    auto files = seg->sync_files(/*with_indexes=*/!active);
    if (!active) m.add_txn_index_sync(seg->base_offset(), files);
    if (m.config.page_cache_tail_bytes > 0 && files.front()) {
      if (!active) {
        // Sealed since the last sync: all of it is synced now. (Up to a tail's
        // worth of it may be read again soon, by consumers at the end; they
        // read it from the disk once.)
        request.cache_drops.push_back({files.front(), seg->size()});
      } else if (auto end = m.cache_drop_end(*seg)) {
        request.cache_drops.push_back({files.front(), *end});
      }
    }
    for (auto& h : files) request.files.push_back(std::move(h));
  }
  // The snapshots the rolls wrote go with the sealed segments: the recovery
  // point moves to one only once it is durable (maybe_write_recovery_point).
  if (m.sealed_below < m.active().base_offset()) {
    for (int64_t offset : m.unsynced_snapshots) {
      // One trimmed since, or never renamed into place, is simply not synced.
      if (auto file = m.env->open(m.snapshot_path(offset), /*create=*/false)) request.files.push_back(std::move(file));
    }
  }
  return request;
}

void PartitionLog::mark_flushed(int64_t durable_offset, int64_t sealed_below) {
  Impl& m = *impl_;
  m.flushed = std::max(m.flushed, std::min(durable_offset, m.end()));
  m.sealed_below = std::max(m.sealed_below, sealed_below);
  // The request carried every snapshot written at a roll up to its sealed_below.
  std::erase_if(m.unsynced_snapshots, [&](int64_t offset) {
    if (offset > sealed_below) return false;
    m.durable_snapshot = std::max(m.durable_snapshot, offset);
    return true;
  });
  // A request made while a directory sync was owed carried the directory,
  // and its parent if the directory's name was not durable then.
  if (m.dir_synced_through < sealed_below) {
    m.dir_synced_through = sealed_below;
    m.name_durable = true;
  }
  m.release_pins();
  if (!m.closed) m.maybe_write_recovery_point();
}

int64_t PartitionLog::flushed_offset() const { return impl_->flushed; }

bool PartitionLog::has_unsynced_data() const {
  const Impl& m = *impl_;
  return m.flushed < m.end() || m.sealed_below < m.active().base_offset();
}

void PartitionLog::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  if (m.standing_marker) return;  // unchanged since a clean start: the marker still stands
  m.active().seal();
  bool ok = true;
  // Segments below sealed_below were synced whole already.
  for (auto& seg : m.segments)
    if (seg.get() == &m.active() || seg->base_offset() >= m.sealed_below)
      ok = seg->sync() && m.sync_txn_index(seg->base_offset()) && ok;
  if (m.dir_synced_through < m.active().base_offset()) ok = m.sync_dir_and_name() && ok;
  if (!ok) return;  // no marker: the next start recovers
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();
  // The snapshot before the recovery point that names it; no marker without both.
  if (!m.write_snapshot(/*durable=*/true) || !m.write_recovery_point(m.end())) return;
  (void)overwrite_checkpoint(*m.env, m.file(kCleanShutdownFile), m.end());
}

bool PartitionLog::prepare_shutdown() {
  Impl& m = *impl_;
  if (m.closed) return false;
  m.closed = true;
  if (m.standing_marker) return false;
  m.active().seal();
  // Made durable by the caller's syncfs, before any marker is written (a
  // failed write only makes the next start replay from an older one). No
  // trim: the older snapshots go at the next run's first roll instead, since
  // on ext4 without a journal each inode freed now would slow down every
  // file the rest of the shutdown creates (bench/README.md, "Shutdown of
  // 10,000 partitions").
  (void)m.write_snapshot(/*durable=*/false, /*trim=*/false);
  return true;
}

void PartitionLog::finish_shutdown() {
  Impl& m = *impl_;
  m.flushed = m.end();
  m.sealed_below = m.active().base_offset();
  m.dir_synced_through = m.active().base_offset();  // the caller's syncfs
  m.release_pins();
  // Both in place and made durable by the caller's second syncfs. The
  // recovery point moves to the end now (everything below it was synced by
  // the first), so the next run's first change need not write it.
  (void)m.write_recovery_point(m.end(), /*durable=*/false);
  (void)overwrite_checkpoint(*m.env, m.file(kCleanShutdownFile), m.end(), /*durable=*/false);
}

void PartitionLog::destroy(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

uint64_t PartitionLog::id() const { return impl_->id; }

size_t PartitionLog::segment_count() const { return impl_->segments.size(); }

std::vector<int64_t> PartitionLog::segment_base_offsets() const {
  std::vector<int64_t> out;
  for (const auto& s : impl_->segments) out.push_back(s->base_offset());
  return out;
}

uint64_t PartitionLog::size_bytes() const {
  uint64_t total = 0;
  for (const auto& s : impl_->segments) total += s->size();
  return total;
}

const ProducerStateTable& PartitionLog::producer_state() const { return impl_->producers; }

uint64_t PartitionLog::start_txn_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms) {
  return impl_->producers.start_verification(producer_id, first_seq, epoch, now_ms);
}

bool PartitionLog::recovered_on_open() const { return impl_->recovered; }
uint64_t PartitionLog::bytes_truncated_on_open() const { return impl_->truncated_bytes; }

}  // namespace runnel::storage
