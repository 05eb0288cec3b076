#include "storage/offset_index.h"

#include <algorithm>
#include <array>

#include "base/endian.h"

namespace runnel::storage {

bool OffsetIndex::load(uint64_t log_size) {
  entries_.clear();
  std::vector<uint8_t> raw;
  if (!file_.read_all(raw)) return false;
  for (size_t i = 0; i + kEntrySize <= raw.size(); i += kEntrySize) {
    Entry e{base_ + load_be32(raw.data() + i), load_be32(raw.data() + i + 4)};
    bool sane = e.position < log_size &&
                (entries_.empty() ? e.offset >= base_
                                  : e.offset > entries_.back().offset && e.position > entries_.back().position);
    if (!sane) {
      entries_.clear();
      return false;
    }
    entries_.push_back(e);
  }
  return true;
}

bool OffsetIndex::append(int64_t offset, uint32_t position) {
  if (!entries_.empty() && (offset <= entries_.back().offset || position <= entries_.back().position)) return true;
  std::array<uint8_t, kEntrySize> raw;
  store_be32(raw.data(), static_cast<uint32_t>(offset - base_));
  store_be32(raw.data() + 4, position);
  if (!file_.append(raw)) return false;
  entries_.push_back({offset, position});
  return true;
}

OffsetIndex::Entry OffsetIndex::lookup(int64_t offset) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), offset,
                             [](int64_t o, const Entry& e) { return o < e.offset; });
  if (it == entries_.begin()) return {base_, 0};
  return *std::prev(it);
}

bool OffsetIndex::truncate_to_position(uint64_t position) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), position,
                             [](const Entry& e, uint64_t p) { return e.position < p; });
  entries_.erase(it, entries_.end());
  return file_.truncate(entries_.size());
}

bool OffsetIndex::clear() {
  entries_.clear();
  return file_.truncate(0);
}

}  // namespace runnel::storage
