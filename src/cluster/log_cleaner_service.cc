#include "cluster/log_cleaner_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "base/clock.h"
#include "storage/offset_map.h"

namespace runnel::cluster {

LogCleanerService::LogCleanerService(Options options, storage::Env* env, PlanFn plan, SwapFn swap, DoneFn done)
    : options_(options),
      env_(env),
      plan_(std::move(plan)),
      swap_(std::move(swap)),
      done_(std::move(done)),
      throttler_(options.io_max_bytes_per_second) {}

LogCleanerService::~LogCleanerService() { stop(); }

void LogCleanerService::start() {
  if (!options_.enable || !threads_.empty()) return;
  int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { run(i); });
}

void LogCleanerService::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void LogCleanerService::run(int index) {
  const int n = std::max(1, options_.threads);
  const uint64_t memory = static_cast<uint64_t>(std::max<int64_t>(options_.dedupe_buffer_size, 1 << 20)) / n;
  const size_t max_slots = storage::OffsetMap::slots_for(memory);
  std::unique_ptr<storage::OffsetMap> map;
  while (!stop_) {
    std::vector<Candidate> candidates;
    try {
      candidates = plan_(wall_clock_ms());
    } catch (const std::exception& e) {
      spdlog::error("log cleaner {}: planning failed: {}", index, e.what());
    }
    const Candidate* pick = nullptr;
    {
      std::lock_guard lock(mu_);
      for (const auto& c : candidates) {
        auto key = c.key();
        if (in_progress_.contains(key) || uncleanable_.contains(key)) continue;
        if (!pick || c.plan.dirty_ratio > pick->plan.dirty_ratio) pick = &c;
      }
      if (pick) in_progress_.insert(pick->key());
    }
    if (!pick) {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.backoff_ms), [this] { return stop_.load(); });
      continue;
    }
    // The map grows with the dirt it must hold (a record takes at least a
    // few bytes of a batch), up to this thread's share of the buffer.
    size_t want = std::min(max_slots, static_cast<size_t>(pick->plan.dirty_bytes / 8 + 4096));
    if (!map || map->slots() < want) map = std::make_unique<storage::OffsetMap>(want);
    storage::LogCleaner cleaner(env_, map.get(), &throttler_, &stop_);
    auto started = std::chrono::steady_clock::now();
    storage::CleanResult result;
    try {
      result = cleaner.clean(pick->plan, [&](const storage::CleanedGroup& g) { return swap_(*pick, g); });
    } catch (const std::exception& e) {
      result.ok = false;
      result.error = e.what();
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    try {
      done_(*pick, result);
    } catch (const std::exception& e) {
      spdlog::error("log cleaner {}: {}", index, e.what());
    }
    std::unique_lock lock(mu_);
    in_progress_.erase(pick->key());
    if (result.ok) {
      ++rounds_;
      spdlog::info(
          "cleaned {} up to offset {} in {:.3f}s: read {} bytes ({} records), wrote {} bytes ({} records kept), "
          "{} group(s) swapped, dirty ratio was {:.3f}",
          pick->key(), result.cleaned_through, secs, result.stats.bytes_read, result.stats.records_read,
          result.stats.bytes_written, result.stats.records_retained, result.stats.groups_swapped,
          pick->plan.dirty_ratio);
    } else if (!stop_ && result.permanent) {
      spdlog::error("log cleaner: {} is left uncleaned for the rest of this run: {}", pick->key(), result.error);
      uncleanable_.insert(pick->key());
    } else if (!stop_) {
      spdlog::info("log cleaner: round of {} abandoned: {}", pick->key(), result.error);
    }
    // A round that did not finish is not tried again at once.
    if (!result.ok)
      wake_.wait_for(lock, std::chrono::milliseconds(options_.backoff_ms), [this] { return stop_.load(); });
  }
}

}  // namespace runnel::cluster
