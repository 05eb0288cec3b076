#pragma once
// Two's-complement addition, as Java's long and int arithmetic does it.
// Kafka computes a record's timestamp and offset as base + delta with Java
// longs and ints, which wrap; in C++ the same sum of hostile wire values
// would be signed overflow, which is undefined. Thread-safe (pure).
#include <cstdint>

namespace runnel {

inline int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace runnel
