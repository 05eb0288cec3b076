#include "storage/flusher.h"

#include <unordered_map>

namespace runnel::storage {

Flusher::~Flusher() { stop(); }

void Flusher::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  {
    std::lock_guard pool_lock(pool_mu_);
    pool_stopping_ = false;
  }
  for (int i = 0; i < kSyncThreads; ++i) pool_.emplace_back([this] { sync_worker(); });
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
  {
    std::lock_guard pool_lock(pool_mu_);
    pool_stopping_ = true;
  }
  pool_work_cv_.notify_all();
  for (auto& t : pool_) t.join();
  pool_.clear();
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

void Flusher::sync_worker() {
  std::unique_lock lock(pool_mu_);
  for (;;) {
    pool_work_cv_.wait(lock, [this] { return pool_stopping_ || (pool_files_ && pool_next_ < pool_files_->size()); });
    if (pool_stopping_) return;
    size_t i = pool_next_++;
    const FileHandle* file = (*pool_files_)[i];
    lock.unlock();
    bool ok = env_->sync(*file);
    lock.lock();
    (*pool_ok_)[i] = ok;
    if (--pool_remaining_ == 0) pool_done_cv_.notify_all();
  }
}

void Flusher::sync_all(const std::vector<const FileHandle*>& files, std::vector<char>& ok) {
  ok.assign(files.size(), 0);
  bool pooled = files.size() > 1;
  if (pooled) {
    std::lock_guard lock(pool_mu_);
    pooled = !pool_.empty() && !pool_stopping_;
  }
  if (!pooled) {
    for (size_t i = 0; i < files.size(); ++i) ok[i] = env_->sync(*files[i]);
    return;
  }
  std::unique_lock lock(pool_mu_);
  pool_files_ = &files;
  pool_ok_ = &ok;
  pool_next_ = 0;
  pool_remaining_ = files.size();
  pool_work_cv_.notify_all();
  // This thread takes its share too.
  while (pool_next_ < files.size()) {
    size_t i = pool_next_++;
    lock.unlock();
    bool synced = env_->sync(*files[i]);
    lock.lock();
    ok[i] = synced;
    --pool_remaining_;
  }
  pool_done_cv_.wait(lock, [this] { return pool_remaining_ == 0; });
  pool_files_ = nullptr;
  pool_ok_ = nullptr;
}

void Flusher::flush(std::deque<Pending>& batch) {
  // Each file once per round, however many requests name it.
  std::unordered_map<const FileHandle*, size_t> index;
  std::vector<const FileHandle*> files;
  for (auto& p : batch)
    for (auto& f : p.request.files)
      if (f && index.emplace(f.get(), files.size()).second) files.push_back(f.get());
  std::vector<char> ok;
  sync_all(files, ok);
  {
    std::lock_guard lock(mu_);
    ++rounds_;
  }
  for (auto& p : batch) {
    bool durable = true;
    for (auto& f : p.request.files) durable = durable && (!f || ok[index[f.get()]]);
    p.done(durable ? p.request.durable_offset : -1);
  }
}

}  // namespace runnel::storage
