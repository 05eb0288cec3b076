#include "storage/offset_map.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace runnel::storage {
namespace {

// A 64-bit finalizer with full avalanche (the constants of SplitMix64's
// output function): every input bit flips each output bit with probability
// about one half.
uint64_t avalanche(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t load_word(const uint8_t* p, size_t n) {
  uint64_t w = 0;
  if (n) std::memcpy(&w, p, n);
  return w;
}

}  // namespace

OffsetMap::OffsetMap(size_t slots) : slots_(std::max<size_t>(slots, 16)) {
  max_entries_ = static_cast<size_t>(static_cast<double>(slots_.size()) * kLoadFactor);
  std::random_device rd;
  seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void OffsetMap::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  size_ = 0;
  latest_ = -1;
}

// Two independent 64-bit lanes over the key's 8-byte words, each word mixed
// in through the avalanche function, the length folded in at the end.
void OffsetMap::hash(std::span<const uint8_t> key, uint64_t& h1, uint64_t& h2) const {
  uint64_t a = seed_ ^ 0x9e3779b97f4a7c15ULL;
  uint64_t b = ~seed_ ^ 0xc2b2ae3d27d4eb4fULL;
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w = load_word(key.data() + i, 8);
    a = avalanche(a ^ w) + 0x165667b19e3779f9ULL;
    b = avalanche(b + (w * 0x27d4eb2f165667c5ULL)) ^ (b >> 17);
  }
  uint64_t tail = load_word(key.data() + i, key.size() - i) ^ (static_cast<uint64_t>(key.size() - i) << 56);
  a = avalanche(a ^ tail ^ key.size());
  b = avalanche(b + tail * 0x94d049bb133111ebULL + key.size());
  h1 = a | 1;  // never 0: 0 marks an empty slot
  h2 = b;
}

bool OffsetMap::put(std::span<const uint8_t> key, int64_t offset) {
  uint64_t h1, h2;
  hash(key, h1, h2);
  size_t mask = slots_.size();
  for (size_t i = static_cast<size_t>(h2 % mask);; i = (i + 1) % mask) {
    Slot& s = slots_[i];
    if (s.h1 == 0) {
      if (full()) return false;
      s = Slot{h1, h2, offset};
      ++size_;
      return true;
    }
    if (s.h1 == h1 && s.h2 == h2) {
      if (offset >= s.offset) s.offset = offset;
      return true;
    }
  }
}

int64_t OffsetMap::get(std::span<const uint8_t> key) const {
  uint64_t h1, h2;
  hash(key, h1, h2);
  size_t n = slots_.size();
  // The map never fills past kLoadFactor, so an empty slot ends every probe.
  for (size_t i = static_cast<size_t>(h2 % n);; i = (i + 1) % n) {
    const Slot& s = slots_[i];
    if (s.h1 == 0) return -1;
    if (s.h1 == h1 && s.h2 == h2) return s.offset;
  }
}

}  // namespace runnel::storage
