// PartitionLog, compaction: what the log cleaner may clean next, and the
// swap of cleaned segments for the ones they replace (storage/log_cleaner.h).
#include "storage/partition_log_impl.h"

namespace runnel::storage {

int64_t PartitionLog::cleaned_through() const { return impl_->cleaned_through; }

std::optional<CleanPlan> PartitionLog::plan_cleaning(int64_t now_ms, int64_t last_stable_offset) {
  Impl& m = *impl_;
  if (m.closed || m.swap_failed || !m.config.compact || m.config.compacted_by_owner || m.segments.size() < 2)
    return std::nullopt;
  // Everything of a segment must be durable below the recovery point before
  // it may be replaced: recovery then never scans it (FORMAT.md).
  const int64_t durable = m.standing_marker ? *m.standing_marker : m.recovery_point_written;
  int64_t limit = std::min(m.active().base_offset(), last_stable_offset);
  if (m.config.min_compaction_lag_ms > 0) {
    for (size_t i = 0; i + 1 < m.segments.size(); ++i) {
      Segment& seg = *m.segments[i];
      if (seg.base_offset() >= limit) break;
      if (seg.max_timestamp() > now_ms - m.config.min_compaction_lag_ms) {
        limit = std::min(limit, seg.base_offset());
        break;
      }
    }
  }
  CleanPlan plan;
  for (size_t i = 0; i + 1 < m.segments.size(); ++i) {
    int64_t end = m.segments[i + 1]->base_offset();
    if (end > limit || end > durable) break;
    plan.segments.push_back({m.segments[i]->base_offset(), m.segments[i]->size(), end});
  }
  if (plan.segments.empty()) return std::nullopt;
  plan.first_uncleanable = plan.segments.back().end_offset;
  plan.first_dirty = std::clamp(std::max({m.cleaned_through, m.log_start, plan.segments.front().base_offset}),
                                plan.segments.front().base_offset, plan.first_uncleanable);
  uint64_t clean_bytes = 0;
  const CleanerSegment* first_dirty_segment = nullptr;
  size_t first_dirty_index = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const auto& seg = plan.segments[i];
    if (seg.end_offset <= plan.first_dirty) {
      clean_bytes += seg.size;
    } else {
      plan.dirty_bytes += seg.size;
      if (!first_dirty_segment) {
        first_dirty_segment = &seg;
        first_dirty_index = i;
      }
    }
  }
  uint64_t total = clean_bytes + plan.dirty_bytes;
  plan.dirty_ratio = total ? static_cast<double>(plan.dirty_bytes) / static_cast<double>(total) : 0;
  bool due = plan.dirty_bytes > 0 && plan.dirty_ratio > m.config.min_cleanable_dirty_ratio;
  // max.compaction.lag.ms: by the first batch of the dirty section, as Kafka.
  if (!due && first_dirty_segment && m.config.max_compaction_lag_ms < std::numeric_limits<int64_t>::max()) {
    if (auto h = m.segments[first_dirty_index]->read_header(0))
      due = h->max_timestamp >= 0 && now_ms - h->max_timestamp > m.config.max_compaction_lag_ms;
  }
  if (!due && m.next_horizon_ms <= now_ms) due = true;
  if (!due) return std::nullopt;

  plan.dir = m.dir;
  plan.log_id = m.id;
  for (const auto& [_, entries] : m.aborted)
    for (const auto& e : entries)
      if (e.first_offset < plan.first_uncleanable) plan.aborted.push_back(e);
  std::sort(plan.aborted.begin(), plan.aborted.end(),
            [](const AbortedTxn& a, const AbortedTxn& b) { return a.first_offset < b.first_offset; });
  for (const auto& [pid, entry] : m.producers.producers())
    plan.producers[pid] = {entry.batches.empty() ? -1 : entry.batches.back().last_offset, entry.epoch};
  plan.now_ms = now_ms;
  plan.delete_retention_ms = m.config.delete_retention_ms;
  plan.max_group_bytes = m.config.segment_bytes;
  plan.index_interval_bytes = m.config.index_interval_bytes;
  plan.compression_levels[1] = m.config.compression_gzip_level;
  plan.compression_levels[2] = 0;
  plan.compression_levels[3] = m.config.compression_lz4_level;
  plan.compression_levels[4] = m.config.compression_zstd_level;
  return plan;
}

LogCleaner::SwapOutcome PartitionLog::swap_cleaned(const CleanedGroup& group) {
  using Outcome = LogCleaner::SwapOutcome;
  Impl& m = *impl_;
  if (m.closed || m.swap_failed || group.log_id != m.id || group.replaced.empty()) return Outcome::Refused;
  // The replaced segments must be exactly those planned, still closed and
  // synced: retention, DeleteRecords or a truncation may have changed them.
  auto it = std::find_if(m.segments.begin(), m.segments.end(),
                         [&](const auto& s) { return s->base_offset() == group.replaced.front().base_offset; });
  if (it == m.segments.end()) return Outcome::Refused;
  size_t first = static_cast<size_t>(it - m.segments.begin());
  size_t count = group.replaced.size();
  if (first + count >= m.segments.size()) return Outcome::Refused;  // the active one is never replaced
  for (size_t j = 0; j < count; ++j) {
    const Segment& seg = *m.segments[first + j];
    if (seg.base_offset() != group.replaced[j].base_offset || seg.size() != group.replaced[j].size)
      return Outcome::Refused;
  }
  const int64_t end = group.end_offset();
  const int64_t durable = m.standing_marker ? *m.standing_marker : m.recovery_point_written;
  if (m.segments[first + count]->base_offset() != end || end > durable) return Outcome::Refused;
  if (!m.touch()) return Outcome::Refused;

  const int64_t base = group.replaced.front().base_offset;
  if (!write_swap_intent(*m.env, m.dir, base, end)) {
    // Not committed unless the intent reached the disk: remove what may be there.
    (void)m.env->remove(swap_intent_path(m.dir, base));
    if (m.env->exists(swap_intent_path(m.dir, base)) || !m.sync_dir_and_name()) {
      m.swap_failed = true;
      return Outcome::Failed;
    }
    return Outcome::Refused;
  }
  if (!complete_swap(*m.env, m.files, m.dir, base, end)) {
    m.swap_failed = true;
    return Outcome::Failed;
  }
  // The files are in place; now the segment list. Slices already handed out
  // keep the old files' descriptors (a renamed-over or removed file lives
  // on until its last descriptor closes).
  for (size_t j = 0; j < count; ++j) m.forget_txn_index(m.segments[first + j]->base_offset());
  auto cleaned = Segment::open_sealed(m.files, m.dir, base, m.config.index_interval_bytes, end, group.size);
  m.segments.erase(m.segments.begin() + static_cast<std::ptrdiff_t>(first),
                   m.segments.begin() + static_cast<std::ptrdiff_t>(first + count));
  m.segments.insert(m.segments.begin() + static_cast<std::ptrdiff_t>(first), std::move(cleaned));
  if (!group.aborted.empty()) {
    m.aborted[base] = group.aborted;
  } else {
    (void)m.env->remove(m.txn_index_path(base));
  }
  return Outcome::Swapped;
}

void PartitionLog::cleaning_done(int64_t cleaned_through, int64_t next_horizon_ms) {
  Impl& m = *impl_;
  if (m.closed) return;
  m.next_horizon_ms = next_horizon_ms;
  if (cleaned_through <= m.cleaned_through) return;
  m.cleaned_through = cleaned_through;
  // Not synced: a lost or torn file only makes the next round start lower.
  (void)write_checkpoint(*m.env, m.file(kCleanerOffsetFile), cleaned_through, /*durable=*/false);
}

}  // namespace runnel::storage
