#include "storage/flusher.h"

#include <algorithm>

#include "base/clock.h"
#include "base/thread_name.h"

namespace runnel::storage {

Flusher::~Flusher() { stop(); }

void Flusher::sync_filesystem_when_busy(std::shared_ptr<const FileHandle> filesystem, size_t min_requests) {
  std::lock_guard lock(mu_);
  uint64_t device = 0;
  if (!filesystem || min_requests == 0 || !env_->device_of(*filesystem, &device)) {
    syncfs_min_requests_ = 0;
    return;
  }
  filesystem_ = std::move(filesystem);
  filesystem_device_ = device;
  // Two at least: one request alone is always its own files' fdatasync.
  syncfs_min_requests_ = std::max<size_t>(2, min_requests);
}

bool Flusher::syncfs_due() const {
  return syncfs_min_requests_ > 0 && !syncfs_failed_ && queue_.size() >= syncfs_min_requests_;
}

bool Flusher::syncfs_failed() const {
  std::lock_guard lock(mu_);
  return syncfs_failed_;
}

void Flusher::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  for (int i = 0; i < threads_; ++i)
    workers_.emplace_back([this, i] {
      name_this_thread("flusher-" + std::to_string(i));
      run();
    });
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
  // While a syncfs runs and enough requests wait for the next one, no thread
  // may take this request (see run()): waking one would only put it back to
  // sleep, once per request (a produce to 1,000 partitions queues 1,000).
  // The syncfs's end wakes them all.
  const bool takeable = !(syncfs_running_ && syncfs_due());
  lock.unlock();
  if (takeable) cv_.notify_one();
}

uint64_t Flusher::rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

void Flusher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    // One syncfs at a time: while one runs, requests enough for the next
    // wait for it (concurrent syncfs calls each write back everything
    // dirty); fewer are each synced on their own by the free threads.
    cv_.wait(lock, [&] { return stopping_ || (!queue_.empty() && !(syncfs_running_ && syncfs_due())); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::vector<Pending> batch;
    const bool together = !syncfs_running_ && syncfs_due();
    if (together) {
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      syncfs_running_ = true;
    } else {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    const int64_t now = monotonic_ns();
    for (auto& pending : batch) queue_latency_.observe_ns(now - pending.queued_ns);
    if (together)
      flush_together(batch);
    else
      flush(batch.front());
    lock.lock();
    if (together) {
      syncfs_running_ = false;
      cv_.notify_all();  // the requests that waited for it
    }
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
  if (ok) drop_cached(pending.request);
  {
    std::lock_guard lock(mu_);
    ++rounds_;
  }
  pending.done(!ok ? kSyncFailed : !opened ? kNotOpened : pending.request.durable_offset);
}

void Flusher::drop_cached(const PartitionLog::SyncRequest& request) {
  for (const auto& drop : request.cache_drops) {
    // Advice only: a failure leaves the pages cached, nothing else.
    if (!env_->drop_cache(*drop.file, drop.end)) continue;
    cache_drop_calls_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool Flusher::on_synced_filesystem(const PartitionLog::SyncRequest& request) const {
  for (const auto& f : request.files) {
    uint64_t device = 0;
    if (f && (!env_->device_of(*f, &device) || device != filesystem_device_)) return false;
  }
  return true;
}

void Flusher::flush_together(std::vector<Pending>& batch) {
  std::vector<Pending*> covered;
  for (auto& pending : batch) {
    // A partition directory mounted from elsewhere: its own fdatasyncs.
    if (on_synced_filesystem(pending.request))
      covered.push_back(&pending);
    else
      flush(pending);
  }
  if (covered.empty()) return;
  // Every request here was queued, so its data written, before this call.
  const int64_t start = monotonic_ns();
  const bool ok = env_->sync_filesystem(*filesystem_);
  syncfs_latency_.observe_ns(monotonic_ns() - start);
  if (!ok) {
    // A writeback error somewhere on the file system, reported once through
    // this handle: only each file's fdatasync can tell whose, now and later.
    {
      std::lock_guard lock(mu_);
      syncfs_failed_ = true;
    }
    for (auto* pending : covered) flush(*pending);
    return;
  }
  requests_per_syncfs_.observe(static_cast<double>(covered.size()));
  {
    std::lock_guard lock(mu_);
    rounds_ += covered.size();
  }
  for (auto* pending : covered) {
    files_per_request_.observe(static_cast<double>(pending->request.files.size()));
    drop_cached(pending->request);
    bool opened = true;
    for (const auto& f : pending->request.files) opened = opened && f != nullptr;
    pending->done(opened ? pending->request.durable_offset : kNotOpened);
  }
}

}  // namespace runnel::storage
