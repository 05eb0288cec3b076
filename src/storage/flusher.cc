#include "storage/flusher.h"

#include <unordered_map>

namespace runnel::storage {

Flusher::~Flusher() { stop(); }

void Flusher::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Flusher::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

void Flusher::request(PartitionLog::SyncRequest request, std::function<void(int64_t)> done) {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) {
    // No thread to hand the work to: sync here rather than never.
    std::deque<Pending> batch;
    batch.push_back({std::move(request), std::move(done)});
    lock.unlock();
    flush(batch);
    return;
  }
  queue_.push_back({std::move(request), std::move(done)});
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
    std::deque<Pending> batch;
    batch.swap(queue_);
    lock.unlock();
    flush(batch);
    lock.lock();
  }
}

void Flusher::flush(std::deque<Pending>& batch) {
  // Each file once per round, however many requests name it.
  std::unordered_map<const FileHandle*, bool> synced;
  for (auto& p : batch)
    for (auto& f : p.request.files)
      if (f && !synced.contains(f.get())) synced[f.get()] = env_->sync(*f);
  {
    std::lock_guard lock(mu_);
    ++rounds_;
  }
  for (auto& p : batch) {
    bool ok = true;
    for (auto& f : p.request.files) ok = ok && (!f || synced[f.get()]);
    p.done(ok ? p.request.durable_offset : -1);
  }
}

}  // namespace runnel::storage
