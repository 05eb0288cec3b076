#pragma once
// The flusher: one thread that makes appended data durable with fdatasync,
// off the shards' threads. Group commit: each round takes every request queued
// so far, syncs each distinct file once, and then completes all of them, so
// one fdatasync acknowledges every append made before it started.
//
// Thread-safety: request() may be called from any thread. `done` runs on the
// flusher thread (or on the caller's, when the flusher is not running); it
// must post back to the log's owning shard before touching the log.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/env.h"
#include "storage/partition_log.h"

namespace runnel::storage {

class Flusher {
 public:
  explicit Flusher(Env* env = Env::posix()) : env_(env) {}
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void start();
  // Completes every queued request, then joins the thread.
  void stop();

  // Queues `request`; `done(durable_offset)` is called once every file in it
  // has been synced, or `done(-1)` if a sync failed (nothing new is durable;
  // the caller may ask again).
  void request(PartitionLog::SyncRequest request, std::function<void(int64_t)> done);

  // Number of sync rounds run so far (tests check that requests are grouped).
  uint64_t rounds() const;

 private:
  struct Pending {
    PartitionLog::SyncRequest request;
    std::function<void(int64_t)> done;
  };
  void run();
  void flush(std::deque<Pending>& batch);

  Env* env_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool running_ = false;
  bool stopping_ = false;
  uint64_t rounds_ = 0;
  std::thread thread_;
};

}  // namespace runnel::storage
