#pragma once
// Wall-clock time in milliseconds since the Unix epoch: what record
// timestamps, retention and Kafka's *.ms settings count in; and a monotonic
// clock for durations.
//
// Thread-safety: a pure function of the system clock.
#include <chrono>
#include <cstdint>

namespace runnel {

inline int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A monotonic clock in nanoseconds, for durations (metrics, timeouts).
inline int64_t monotonic_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace runnel
