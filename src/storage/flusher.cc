#include "storage/flusher.h"

#include "base/clock.h"

namespace runnel::storage {

Flusher::~Flusher() { stop(); }

void Flusher::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { run(); });
}

void Flusher::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard lock(mu_);
  running_ = false;
}

void Flusher::request(PartitionLog::SyncRequest request, std::function<void(int64_t)> done) {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) {
    // No thread to hand the work to: sync here rather than never.
    Pending pending{std::move(request), std::move(done)};
    lock.unlock();
    flush(pending);
    return;
  }
  queue_.push_back({std::move(request), std::move(done), monotonic_ns()});
  lock.unlock();
  cv_.notify_one();
}

uint64_t Flusher::rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

void Flusher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    queue_latency_.observe_ns(monotonic_ns() - pending.queued_ns);
    flush(pending);
    lock.lock();
  }
}

void Flusher::flush(Pending& pending) {
  bool ok = true;
  bool opened = true;
  for (auto& f : pending.request.files) {
    if (!f) {
      // Its file could not be opened (EMFILE under a storm of syncs). The
      // data was written through a pinned handle, or synced at once when no
      // pin was free, so nothing is lost: sync the rest, and have the caller
      // ask again.
      opened = false;
      continue;
    }
    int64_t start = monotonic_ns();
    ok = env_->sync(*f) && ok;
    sync_latency_.observe_ns(monotonic_ns() - start);
  }
  files_per_request_.observe(static_cast<double>(pending.request.files.size()));
  {
    std::lock_guard lock(mu_);
    ++rounds_;
  }
  pending.done(!ok ? kSyncFailed : !opened ? kNotOpened : pending.request.durable_offset);
}

}  // namespace runnel::storage
