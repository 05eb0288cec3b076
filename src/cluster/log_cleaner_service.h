#pragma once
// The log cleaner threads (Kafka's LogCleaner, log.cleaner.threads of
// them): each loops, asking the shards for the partitions whose compaction is
// due (PartitionLog::plan_cleaning), cleaning the dirtiest one on its own
// thread (storage::LogCleaner: it reads closed segment files and writes
// `.cleaned` ones, never touching what the shard owns) and handing every
// cleaned group back to the partition's shard, which checks that nothing
// changed meanwhile and swaps it in. The threads share one I/O budget
// (log.cleaner.io.max.bytes.per.second) and split
// log.cleaner.dedupe.buffer.size between their offset maps; with nothing to
// clean they sleep log.cleaner.backoff.ms. A partition whose log cannot be
// cleaned (bad bytes) is left alone for the life of the process, as Kafka
// marks it uncleanable.
//
// The four numbers change at run time (reconfigure(), Kafka's dynamic
// log.cleaner.* keys): the rate and the back-off at once, the buffer share
// from each thread's next round, and the thread count by starting threads or
// letting the highest-numbered ones end after their round.
//
// Thread-safety: start() and stop() from the thread that starts and stops
// the broker; reconfigure() from any thread (it never waits for a round);
// everything else runs on the cleaner threads, which reach the shards only
// through the functions they were given (each blocks until the shard has
// answered, so the shards must keep running until stop() returns).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/env.h"
#include "storage/io_throttler.h"
#include "storage/log_cleaner.h"

namespace runnel::cluster {

class LogCleanerService {
 public:
  struct Options {
    bool enable = true;                                                   // log.cleaner.enable
    int32_t threads = 1;                                                  // log.cleaner.threads
    int64_t backoff_ms = 15000;                                           // log.cleaner.backoff.ms
    int64_t dedupe_buffer_size = 128LL << 20;                             // log.cleaner.dedupe.buffer.size
    double io_max_bytes_per_second = std::numeric_limits<double>::max();  // log.cleaner.io.max.bytes.per.second
  };
  // A partition whose round is due, as its shard planned it.
  struct Candidate {
    std::string topic;
    int32_t partition = 0;
    storage::CleanPlan plan;
    std::string key() const { return topic + "-" + std::to_string(partition); }
  };
  // Each called on a cleaner thread, running its work on the shards and
  // waiting for it.
  using PlanFn = std::function<std::vector<Candidate>(int64_t now_ms)>;
  using SwapFn = std::function<storage::LogCleaner::SwapOutcome(const Candidate&, const storage::CleanedGroup&)>;
  using DoneFn = std::function<void(const Candidate&, const storage::CleanResult&)>;

  LogCleanerService(Options options, storage::Env* env, PlanFn plan, SwapFn swap, DoneFn done);
  ~LogCleanerService();
  LogCleanerService(const LogCleanerService&) = delete;
  LogCleanerService& operator=(const LogCleanerService&) = delete;

  void start();
  // Takes new threads, backoff_ms, dedupe_buffer_size and
  // io_max_bytes_per_second (`enable` stays as it was).
  void reconfigure(const Options& options);
  // Aborts the rounds under way (their `.cleaned` files are deleted) and
  // joins the threads.
  void stop();
  // Rounds completed so far (tests, logs).
  uint64_t rounds() const { return rounds_.load(); }

 private:
  void run(int index);
  // Starts threads up to options_.threads; under mu_.
  void start_threads_locked();

  Options options_;  // under mu_ once started
  storage::Env* env_;
  PlanFn plan_;
  SwapFn swap_;
  DoneFn done_;
  storage::IoThrottler throttler_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rounds_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::string> in_progress_;  // under mu_
  std::set<std::string> uncleanable_;  // under mu_
  std::vector<std::thread> threads_;   // under mu_
  std::vector<bool> ended_;            // under mu_: thread i left run() (the count went down)
  uint64_t generation_ = 0;            // under mu_: reconfigurations so far (ends a back-off sleep)
};

}  // namespace runnel::cluster
