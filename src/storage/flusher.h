#pragma once
// The flusher: a small pool of threads that make appended data durable with
// fdatasync, off the shards' threads. Each request (one partition's files and
// the offset they make durable) is synced by the next free thread,
// independently of the others: a filesystem syncs concurrent fdatasyncs of
// different files in parallel and folds their journal commits together, so
// 16 partitions appending at once flush like 16 independent writers rather
// than one after the other (fio on the dev VM, 64 KiB writes + fdatasync: 257
// MB/s with 1 writer, 527 MB/s with 16).
//
// Group commit comes from the callers: a partition keeps at most one request
// in flight, and its completion acknowledges every append made before it was
// queued (cluster::Partition::request_flush).
//
// Thread-safety: request() may be called from any thread. `done` runs on a
// flusher thread (or on the caller's, when the flusher is not running); it
// must post back to the log's owning shard before touching the log.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/histogram.h"
#include "storage/env.h"
#include "storage/partition_log.h"

namespace runnel::storage {

class Flusher {
 public:
  explicit Flusher(Env* env = Env::posix(), int threads = kDefaultThreads) : env_(env), threads_(threads) {}
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  static constexpr int kDefaultThreads = 8;

  void start();
  // Completes every queued request, then joins the threads.
  void stop();

  // Queues `request`; `done(durable_offset)` is called once every file in it
  // has been synced, `done(kSyncFailed)` if a sync failed (nothing new is
  // durable, and what was written may be lost), or `done(kNotOpened)` if a
  // file of it could not be opened (descriptors ran out: nothing was lost,
  // the caller asks again a little later).
  static constexpr int64_t kSyncFailed = -1;
  static constexpr int64_t kNotOpened = -2;
  void request(PartitionLog::SyncRequest request, std::function<void(int64_t)> done);

  // Number of requests completed so far.
  uint64_t rounds() const;
  // How long each fdatasync took (seconds), and how many files each request
  // synced (for /metrics).
  const Histogram& sync_latency() const { return sync_latency_; }
  const Histogram& files_per_request() const { return files_per_request_; }
  // How long requests waited for a free flusher thread (seconds).
  const Histogram& queue_latency() const { return queue_latency_; }

 private:
  struct Pending {
    PartitionLog::SyncRequest request;
    std::function<void(int64_t)> done;
    int64_t queued_ns = 0;
  };
  void run();
  void flush(Pending& pending);

  Env* env_;
  int threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool running_ = false;
  bool stopping_ = false;
  uint64_t rounds_ = 0;
  std::vector<std::thread> workers_;
  static constexpr double kFileCountBounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
  Histogram sync_latency_{kLatencyBounds};
  Histogram files_per_request_{kFileCountBounds};
  Histogram queue_latency_{kLatencyBounds};
};

}  // namespace runnel::storage
