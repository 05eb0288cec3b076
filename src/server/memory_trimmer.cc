#include "server/memory_trimmer.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

namespace runnel {

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds interval, uint64_t threshold, uint64_t freed_bytes_threshold)
    : interval_(interval),
      threshold_(threshold),
      freed_bytes_threshold_(freed_bytes_threshold),
      closed_at_last_trim_(closed_.load()),
      freed_bytes_at_last_trim_(freed_bytes_.load()) {}

void MemoryTrimmer::start() {
  thread_.start("memory-trimmer", interval_, [this] { (void)trim_if_due(); });
}

void MemoryTrimmer::stop() { thread_.stop(); }

bool MemoryTrimmer::trim_if_due() {
  const uint64_t closed = closed_.load(std::memory_order_relaxed);
  const uint64_t freed = freed_bytes_.load(std::memory_order_relaxed);
  const uint64_t since = closed - closed_at_last_trim_;
  const uint64_t freed_since = freed - freed_bytes_at_last_trim_;
  if (since < threshold_ && freed_since < freed_bytes_threshold_) return false;
  closed_at_last_trim_ = closed;
  freed_bytes_at_last_trim_ = freed;
  auto started = std::chrono::steady_clock::now();
  const bool released = malloc_trim(0) != 0;
  trims_.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug(
      "malloc_trim after {} closed connections and {} bytes of requests freed: {} in {} us", since, freed_since,
      released ? "memory released" : "nothing to release",
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
  return true;
}

}  // namespace runnel
