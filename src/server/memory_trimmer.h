#pragma once
// Gives the memory that closed connections freed back to the kernel.
// glibc's malloc keeps freed memory in the arena of the thread that freed
// it, and a connection's buffers and coroutine frames are freed on the
// shard threads, so a burst of connections leaves the broker's resident
// size where the burst put it: after three rounds of 8,000 idle
// connections opened and closed, 154 MB resident, of which malloc_trim(0)
// returned 122 MB (bench/README.md, "Hard workloads"). The same happens
// when a connection's read-ahead grows and shrinks: librdkafka's default
// lets 1,000,000 requests be in flight, and over TLS a connection held up
// to its 64 MiB of requests, which malloc then kept (81 MB resident after
// the rows; bench/README.md, "Connections that moved back and forth"). A
// background thread wakes every interval and trims when enough
// connections closed, or enough request buffers were freed, since the last
// trim, so a steady broker never pays for it.
//
// Thread-safety: note_connection_closed(), note_request_bytes_freed() and
// trims() from any thread (one relaxed atomic operation); start() and stop() from the
// thread that starts and stops the broker.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "base/periodic_thread.h"

namespace runnel {

class MemoryTrimmer {
 public:
  // Trims at most every `interval`, once `threshold` connections closed or
  // `freed_bytes_threshold` bytes of request buffers were freed.
  MemoryTrimmer(std::chrono::milliseconds interval, uint64_t threshold, uint64_t freed_bytes_threshold);
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // Counted for every trimmer (process-wide): listeners call it.
  static void note_connection_closed() { closed_.fetch_add(1, std::memory_order_relaxed); }
  // A request buffer that was freed rather than kept for the next request.
  static void note_request_bytes_freed(uint64_t bytes) { freed_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  // How many times any trimmer trimmed (/metrics: runnel_memory_trims_total).
  static uint64_t trims() { return trims_.load(std::memory_order_relaxed); }

  void start();
  void stop();
  // Trims now if enough connections closed or enough request bytes were
  // freed since the last trim; returns whether it did (the thread's loop;
  // tests).
  bool trim_if_due();

 private:
  static inline std::atomic<uint64_t> closed_{0};
  static inline std::atomic<uint64_t> freed_bytes_{0};
  static inline std::atomic<uint64_t> trims_{0};
  const std::chrono::milliseconds interval_;
  const uint64_t threshold_;
  const uint64_t freed_bytes_threshold_;
  // The trimmer thread's (or the test's) own.
  uint64_t closed_at_last_trim_ = 0;
  uint64_t freed_bytes_at_last_trim_ = 0;
  PeriodicThread thread_;
};

}  // namespace runnel
