#include "storage/io_throttler.h"

#include <cmath>
#include <thread>

namespace runnel::storage {

namespace {
bool is_limit(double rate) { return rate > 0 && std::isfinite(rate) && rate < 1e18; }
}  // namespace

bool IoThrottler::limited() const { return is_limit(rate_.load()); }

void IoThrottler::set_rate(double bytes_per_second) {
  std::lock_guard lock(mu_);
  rate_.store(bytes_per_second);
  generation_.fetch_add(1);
  window_start_ = std::chrono::steady_clock::now();
  window_bytes_ = 0;
}

void IoThrottler::throttle(uint64_t bytes, const std::atomic<bool>* stop) {
  if (!limited()) return;
  using namespace std::chrono;
  duration<double> sleep{0};
  const uint64_t generation = generation_.load();
  {
    std::lock_guard lock(mu_);
    window_bytes_ += static_cast<double>(bytes);
    auto now = steady_clock::now();
    duration<double> elapsed = now - window_start_;
    const double rate = rate_.load();
    if (!is_limit(rate)) return;
    duration<double> due{window_bytes_ / rate};
    if (due > elapsed) sleep = due - elapsed;
    // A new window once a second has passed and the debt is paid.
    if (elapsed >= seconds(1) && sleep.count() <= 0) {
      window_start_ = now;
      window_bytes_ = 0;
    }
  }
  // In short steps, so that a stop request is heard quickly.
  auto until = steady_clock::now() + duration_cast<steady_clock::duration>(sleep);
  while (steady_clock::now() < until) {
    if ((stop && stop->load()) || generation_.load() != generation) return;
    std::this_thread::sleep_for(std::min<steady_clock::duration>(until - steady_clock::now(), milliseconds(50)));
  }
}

}  // namespace runnel::storage
