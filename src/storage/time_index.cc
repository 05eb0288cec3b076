#include "storage/time_index.h"

#include <algorithm>
#include <array>

#include "base/endian.h"

namespace runnel::storage {

bool TimeIndex::load(int64_t next_offset) {
  entries_.clear();
  std::vector<uint8_t> raw;
  if (!file_.read_all(raw)) return false;
  for (size_t i = 0; i + kEntrySize <= raw.size(); i += kEntrySize) {
    Entry e{static_cast<int64_t>(load_be64(raw.data() + i)), base_ + load_be32(raw.data() + i + 8)};
    bool sane = e.offset < next_offset &&
                (entries_.empty() || (e.timestamp > entries_.back().timestamp && e.offset > entries_.back().offset));
    if (!sane) {
      entries_.clear();
      return false;
    }
    entries_.push_back(e);
  }
  return true;
}

bool TimeIndex::append(int64_t timestamp, int64_t offset) {
  if (!entries_.empty() && (timestamp <= entries_.back().timestamp || offset <= entries_.back().offset)) return true;
  std::array<uint8_t, kEntrySize> raw;
  store_be64(raw.data(), static_cast<uint64_t>(timestamp));
  store_be32(raw.data() + 8, static_cast<uint32_t>(offset - base_));
  if (!file_.append(raw)) return false;
  entries_.push_back({timestamp, offset});
  return true;
}

int64_t TimeIndex::lookup(int64_t timestamp) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp,
                             [](const Entry& e, int64_t t) { return e.timestamp < t; });
  if (it == entries_.begin()) return base_;
  return std::prev(it)->offset;
}

std::optional<TimeIndex::Entry> TimeIndex::last() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

bool TimeIndex::truncate_to_offset(int64_t offset) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), offset,
                             [](const Entry& e, int64_t o) { return e.offset < o; });
  entries_.erase(it, entries_.end());
  return file_.truncate(entries_.size());
}

bool TimeIndex::clear() {
  entries_.clear();
  return file_.truncate(0);
}

}  // namespace runnel::storage
