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
// Many requests at once (hundreds of partitions, or a transaction's markers
// on each of its partitions) are made durable together, with one syncfs(2)
// of the data directory's file system instead of an fdatasync per file,
// once sync_filesystem_when_busy() has named it: a syncfs writes back every
// dirty page and commits the journal once, where N fdatasyncs commit it up
// to N times. On the dev VM's ext4 (1 KiB appended to each file, then made
// durable; bench/README.md "One syncfs for many partitions"): 16 files 1.0
// ms with fdatasyncs from 8 threads against 0.2-0.3 ms for one syncfs, 1,000
// files 49-54 ms against 6-9 ms. A syncfs also writes what nothing waits for
// (acks=1 appends, other processes' files on the same file system), so it is
// used only once enough requests wait; one request alone is still an
// fdatasync of its own files.
//
// Thread-safety: request() may be called from any thread. `done` runs on a
// flusher thread (or on the caller's, when the flusher is not running); it
// must post back to the log's owning shard before touching the log.
#include <atomic>
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

  // Before start(): from now on, when at least `min_requests` requests are
  // queued, a free thread takes all of them whose files are on the file
  // system of `filesystem` (a handle opened at start-up, used for nothing
  // else: its syncfs reports every writeback error on that file system since
  // it was opened) and syncs them with one syncfs. If a syncfs ever fails
  // the flusher goes back to fdatasync for good: the error may belong to any
  // file, and only each file's own fdatasync says which.
  void sync_filesystem_when_busy(std::shared_ptr<const FileHandle> filesystem, size_t min_requests);

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
  // How long each syncfs took (seconds), and how many requests it made
  // durable together.
  const Histogram& syncfs_latency() const { return syncfs_latency_; }
  const Histogram& requests_per_syncfs() const { return requests_per_syncfs_; }
  // Page-cache drops made after syncs that succeeded
  // (LogConfig::page_cache_tail_bytes).
  uint64_t cache_drop_calls() const { return cache_drop_calls_.load(std::memory_order_relaxed); }
  // Whether a syncfs failed (the flusher uses fdatasync only since).
  bool syncfs_failed() const;

 private:
  struct Pending {
    PartitionLog::SyncRequest request;
    std::function<void(int64_t)> done;
    int64_t queued_ns = 0;
  };
  void run();
  // Syncs one request's files, each with fdatasync, and completes it.
  void flush(Pending& pending);
  // Syncs `batch` with one syncfs (those of its requests on that file
  // system; the others one by one) and completes every request.
  void flush_together(std::vector<Pending>& batch);
  // Whether enough requests wait for one syncfs to take them all (mu_ held).
  bool syncfs_due() const;
  // After `request`'s syncs succeeded: its cache drops (advice).
  void drop_cached(const PartitionLog::SyncRequest& request);
  // Whether every file of `request` is on the syncfs file system.
  bool on_synced_filesystem(const PartitionLog::SyncRequest& request) const;

  Env* env_;
  int threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool running_ = false;
  bool stopping_ = false;
  uint64_t rounds_ = 0;
  std::vector<std::thread> workers_;
  std::shared_ptr<const FileHandle> filesystem_;  // set before start(), then read-only
  uint64_t filesystem_device_ = 0;
  size_t syncfs_min_requests_ = 0;  // 0: never
  bool syncfs_failed_ = false;      // under mu_
  bool syncfs_running_ = false;     // under mu_
  std::atomic<uint64_t> cache_drop_calls_{0};
  static constexpr double kFileCountBounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
  Histogram sync_latency_{kLatencyBounds};
  Histogram files_per_request_{kFileCountBounds};
  Histogram queue_latency_{kLatencyBounds};
  static constexpr double kRequestCountBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  Histogram syncfs_latency_{kLatencyBounds};
  Histogram requests_per_syncfs_{kRequestCountBounds};
};

}  // namespace runnel::storage
