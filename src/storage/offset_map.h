#pragma once
// The log cleaner's key -> latest offset map (Kafka's SkimpyOffsetMap): a
// fixed-size open-addressing table of 128-bit key hashes and offsets, 24
// bytes a slot, sized from log.cleaner.dedupe.buffer.size. Keys themselves
// are not kept, so the memory bound holds whatever the keys' sizes.
//
// Two keys with the same 128-bit hash would share one entry, and the older
// record of the two would be dropped as if superseded. The hash is seeded at
// random per map (per process), so a client cannot aim at a collision
// without knowing the seed; by chance one is about as likely as in Kafka's
// MD5-based map.
//
// Thread-safety: none; one map per cleaner thread.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace runnel::storage {

class OffsetMap {
 public:
  static constexpr size_t kSlotBytes = 24;
  // Kafka's log.cleaner.io.buffer.load.factor default: the map counts as
  // full at 90% of its slots, where linear probing is still short.
  static constexpr double kLoadFactor = 0.9;

  // A map of `slots` slots (at least 16).
  explicit OffsetMap(size_t slots);
  // The number of slots `memory_bytes` holds.
  static size_t slots_for(uint64_t memory_bytes) { return static_cast<size_t>(memory_bytes / kSlotBytes); }

  void clear();
  // Whether another new key may still be put.
  bool full() const { return size_ >= max_entries_; }
  // Records `offset` as the latest of `key` (an offset at or above the one
  // held replaces it). False, with nothing changed, when the key is new and
  // the map is full.
  bool put(std::span<const uint8_t> key, int64_t offset);
  // The latest offset of `key`, or -1 when it is not in the map.
  int64_t get(std::span<const uint8_t> key) const;

  // The last offset the map covers: records above it were not looked at, and
  // the cleaner keeps them as they are.
  int64_t latest_offset() const { return latest_; }
  void update_latest_offset(int64_t offset) {
    if (offset > latest_) latest_ = offset;
  }
  void set_latest_offset(int64_t offset) { latest_ = offset; }

  size_t size() const { return size_; }
  size_t slots() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t h1 = 0;  // 0 with h2 == 0: empty (h1 is never 0 for a key)
    uint64_t h2 = 0;
    int64_t offset = -1;
  };
  void hash(std::span<const uint8_t> key, uint64_t& h1, uint64_t& h2) const;

  std::vector<Slot> slots_;
  size_t max_entries_;
  size_t size_ = 0;
  int64_t latest_ = -1;
  uint64_t seed_;
};

}  // namespace runnel::storage
