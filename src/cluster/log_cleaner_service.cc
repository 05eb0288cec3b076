#include "cluster/log_cleaner_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "base/clock.h"
#include "base/thread_name.h"
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
  std::lock_guard lock(mu_);
  if (!options_.enable || !threads_.empty() || stop_) return;
  start_threads_locked();
}

void LogCleanerService::start_threads_locked() {
  const size_t n = static_cast<size_t>(std::max(1, options_.threads));
  for (size_t i = 0; i < n; ++i) {
    if (i < threads_.size() && !ended_[i]) continue;  // still running (perhaps finishing a round)
    if (i < threads_.size()) {
      // It has left run() (it set ended_ under mu_ as its last act): the
      // join returns at once.
      threads_[i].join();
      threads_[i] = std::thread([this, i] { run(static_cast<int>(i)); });
      ended_[i] = false;
    } else {
      threads_.emplace_back([this, i] { run(static_cast<int>(i)); });
      ended_.push_back(false);
    }
  }
}

void LogCleanerService::reconfigure(const Options& options) {
  {
    std::lock_guard lock(mu_);
    const bool changed = options.threads != options_.threads || options.backoff_ms != options_.backoff_ms ||
                         options.dedupe_buffer_size != options_.dedupe_buffer_size ||
                         options.io_max_bytes_per_second != options_.io_max_bytes_per_second;
    if (!changed) return;
    options_.threads = options.threads;
    options_.backoff_ms = options.backoff_ms;
    options_.dedupe_buffer_size = options.dedupe_buffer_size;
    options_.io_max_bytes_per_second = options.io_max_bytes_per_second;
    throttler_.set_rate(options.io_max_bytes_per_second);
    ++generation_;
    spdlog::info("log cleaner reconfigured: {} thread(s), backoff {} ms, dedupe buffer {} bytes, I/O limit {} bytes/s",
                 options_.threads, options_.backoff_ms, options_.dedupe_buffer_size, options_.io_max_bytes_per_second);
    if (options_.enable && !threads_.empty() && !stop_) start_threads_locked();
  }
  // Sleeping threads take the new back-off, or end when there are fewer.
  wake_.notify_all();
}

void LogCleanerService::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    threads.swap(threads_);
    ended_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

void LogCleanerService::run(int index) {
  name_this_thread("log-cleaner-" + std::to_string(index));  // Kafka's: kafka-log-cleaner-thread-N
  std::unique_ptr<storage::OffsetMap> map;
  while (!stop_) {
    size_t max_slots = 0;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      const int n = std::max(1, options_.threads);
      if (index >= n) {
        // The count went down: this thread ends; its map goes with it.
        if (static_cast<size_t>(index) < ended_.size()) ended_[static_cast<size_t>(index)] = true;
        return;
      }
      const uint64_t memory = static_cast<uint64_t>(std::max<int64_t>(options_.dedupe_buffer_size, 1 << 20)) / n;
      max_slots = storage::OffsetMap::slots_for(memory);
    }
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
      // A reconfiguration ends the sleep: the new back-off counts from now.
      const uint64_t generation = generation_;
      wake_.wait_for(lock, std::chrono::milliseconds(options_.backoff_ms),
                     [this, generation] { return stop_.load() || generation_ != generation; });
      continue;
    }
    // The map grows with the dirt it must hold (a record takes at least a
    // few bytes of a batch), up to this thread's share of the buffer.
    size_t want = std::min(max_slots, static_cast<size_t>(pick->plan.dirty_bytes / 8 + 4096));
    // A smaller share (the buffer shrank, or more threads share it) gives
    // memory back.
    if (!map || map->slots() < want || map->slots() > max_slots) map = std::make_unique<storage::OffsetMap>(want);
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
      wake_.wait_for(lock, std::chrono::milliseconds(options_.backoff_ms),
                     [this, generation = generation_] { return stop_.load() || generation_ != generation; });
  }
}

}  // namespace runnel::cluster
