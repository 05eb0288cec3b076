#pragma once
// Gives the memory that closed connections freed back to the kernel.
// glibc's malloc keeps freed memory in the arena of the thread that freed
// it, and a connection's buffers and coroutine frames are freed on the
// shard threads, so a burst of connections leaves the broker's resident
// size where the burst put it: after three rounds of 8,000 idle
// connections opened and closed, 154 MB resident, of which malloc_trim(0)
// returned 122 MB (bench/README.md, "Hard workloads"). A background thread
// wakes every interval and trims when enough connections closed since the
// last trim, so a steady broker never pays for it.
//
// Thread-safety: note_connection_closed() from any thread (one relaxed
// atomic add); start() and stop() from the thread that starts and stops
// the broker.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "base/periodic_thread.h"

namespace runnel {

class MemoryTrimmer {
 public:
  // Trims at most every `interval`, once `threshold` connections closed.
  MemoryTrimmer(std::chrono::milliseconds interval, uint64_t threshold);
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // Counted for every trimmer (process-wide): listeners call it.
  static void note_connection_closed() { closed_.fetch_add(1, std::memory_order_relaxed); }

  void start();
  void stop();
  // Trims now if enough connections closed since the last trim; returns
  // whether it did (the thread's loop; tests).
  bool trim_if_due();

 private:
  static inline std::atomic<uint64_t> closed_{0};
  const std::chrono::milliseconds interval_;
  const uint64_t threshold_;
  uint64_t closed_at_last_trim_ = 0;  // the trimmer thread's (or the test's) own
  PeriodicThread thread_;
};

}  // namespace runnel
