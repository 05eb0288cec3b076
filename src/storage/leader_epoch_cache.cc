#include "storage/leader_epoch_cache.h"

#include <algorithm>

namespace runnel::storage {

bool EpochList::assign(LeaderEpoch epoch, Offset start_offset) {
  if (epoch.value() < 0 || start_offset.value() < 0) return false;
  if (!entries_.empty() && epoch <= entries_.back().epoch) return false;
  // A new epoch that starts before entries already there means the log was
  // cut below them without the cache (Kafka's maybeTruncateNonMonotonicEntries).
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.start_offset >= start_offset; });
  entries_.push_back({epoch, start_offset});
  return true;
}

std::optional<LeaderEpoch> EpochList::latest_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

EpochEndOffset EpochList::end_offset_for(LeaderEpoch requested, Offset log_end) const {
  if (requested == kUndefinedEpoch || entries_.empty()) return {};
  if (entries_.back().epoch == requested) return {requested, log_end};
  // The first entry with an epoch above the one asked for: its start is
  // where every lower epoch ended.
  auto higher = std::upper_bound(entries_.begin(), entries_.end(), requested,
                                 [](LeaderEpoch e, const EpochEntry& x) { return e < x.epoch; });
  if (higher == entries_.end()) return {};
  if (higher == entries_.begin()) return {requested, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

bool EpochList::truncate_from_end(Offset end) {
  if (end.value() < 0 || entries_.empty() || entries_.back().start_offset < end) return false;
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.start_offset >= end; });
  return true;
}

bool EpochList::truncate_from_start(Offset start) {
  // The entries that start at or below `start`: all but the last go, and the
  // last now starts at `start` (it still holds the records from there).
  auto first_above = std::upper_bound(entries_.begin(), entries_.end(), start,
                                      [](Offset o, const EpochEntry& x) { return o < x.start_offset; });
  if (first_above == entries_.begin()) return false;
  auto keep = std::prev(first_above);
  if (keep == entries_.begin() && keep->start_offset == start) return false;
  keep->start_offset = start;
  entries_.erase(entries_.begin(), keep);
  return true;
}

bool LeaderEpochCache::load() {
  list_.clear();
  std::vector<uint8_t> bytes;
  if (!env_->read_file(path_, bytes)) return false;
  auto entries = decode_epoch_checkpoint(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!entries) return false;
  list_ = EpochList(std::move(*entries));
  return true;
}

bool LeaderEpochCache::flush() {
  std::string text = encode_epoch_checkpoint(list_.entries());
  return env_->write_file_atomic(path_,
                                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

bool LeaderEpochCache::assign(LeaderEpoch epoch, Offset start_offset) {
  return !list_.assign(epoch, start_offset) || flush();
}

bool LeaderEpochCache::truncate_from_end(Offset end) { return !list_.truncate_from_end(end) || flush(); }

bool LeaderEpochCache::truncate_from_start(Offset start) { return !list_.truncate_from_start(start) || flush(); }

bool LeaderEpochCache::reset(std::vector<EpochEntry> entries) {
  list_ = EpochList(std::move(entries));
  return flush();
}

}  // namespace runnel::storage
