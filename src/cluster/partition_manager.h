#pragma once
// The partitions this node holds, and their lifecycle: which shard owns each
// (a stable hash of topic and partition), opening them (running log recovery)
// and dropping them, pushing a topic's changed configuration to them, the
// per-shard timers that apply retention and sync idle partitions, and the
// clean shutdown that seals them all with one syncfs. Each shard has its own
// map of partitions and its own descriptor cache (storage::FileCache).
// In a cluster it also applies each partition's role as etcd gives it
// (apply_roles: become leader / follower), runs the follower fetchers (one
// per shard and leader broker) and the leaders' ISR checks.
//
// Thread-safety: owner() is safe from any thread. partition(),
// open_partitions() and drop_partitions() act on the calling shard's own
// partitions and must run on a shard thread. open_everywhere(),
// drop_everywhere() and apply_topic_config() are coroutines that hop to every
// shard themselves. start(), open_all(), start_timers() and stop() are called
// from the thread that starts and stops the broker (not a shard): start()
// before the shards run, the others while they do.
#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error_code.h"
#include "cluster/flush_gate.h"
#include "cluster/log_cleaner_service.h"
#include "cluster/log_dirs.h"
#include "cluster/partition.h"
#include "cluster/replica_copy.h"
#include "cluster/replication/replica_fetcher.h"
#include "cluster/topic_table.h"
#include "runtime/shard.h"
#include "storage/env.h"
#include "storage/file_cache.h"
#include "storage/flusher.h"

namespace runnel::cluster {

class PartitionManager {
 public:
  struct Options {
    int64_t retention_check_interval_ms = 300000;      // log.retention.check.interval.ms
    int64_t idle_flush_ms = 1000;                      // runnel.idle.flush.ms
    NodeId node_id{0};                                 // opens only the partitions this node holds (TopicInfo::holds)
    bool replicated = false;                           // a cluster: partitions take roles from apply_roles()
    int64_t replica_lag_time_max_ms = 30000;           // replica.lag.time.max.ms
    int32_t replica_fetch_wait_max_ms = 500;           // replica.fetch.wait.max.ms
    int32_t replica_fetch_max_bytes = 1 << 20;         // replica.fetch.max.bytes
    int32_t num_replica_fetchers = 1;                  // num.replica.fetchers: per shard and leader
    std::optional<InterBrokerSasl> inter_broker_sasl;  // the fetchers' login, when the leaders' listener uses SASL
    LogCleanerService::Options cleaner;                // log.cleaner.*
  };
  // What the broker supplies for replication, set before start_timers().
  struct ReplicationHooks {
    // A broker's address, for the fetchers.
    replication::ReplicaFetcher::Resolve resolve;
    // Writes a leader's new ISR (ControlPlane::alter_isr) off the shard
    // threads and resumes on the caller's shard: NONE when committed.
    // (References, not values: a coroutine's non-trivial by-value arguments
    // are destroyed twice by GCC 12 when awaited in place, PR 100611.)
    std::function<asio::awaitable<ErrorCode>(const std::string& topic, PartitionId partition, LeaderEpoch leader_epoch,
                                             const std::vector<NodeId>& isr)>
        alter_isr;
    // A leader whose log went offline hands its leadership over
    // (ControlPlane::resign_offline_leader), like alter_isr off the shards.
    std::function<asio::awaitable<ErrorCode>(const std::string& topic, PartitionId partition, LeaderEpoch leader_epoch)>
        resign_offline_leader;
    // Whether this broker is fenced (ControlPlane::fenced: its registration
    // lost, it serves no fetch as leader); any thread. While it is, no ISR
    // change is proposed, and once it ends followers get a full
    // replica.lag.time.max.ms again: they could not fetch from it meanwhile.
    std::function<bool()> fenced;
    // A partition became leader here (true) or stopped being it (false), on
    // its shard (the broker loads or drops group coordinators).
    std::function<void(int shard_id, const std::string& topic, int32_t partition, bool leader)> on_leadership;
    // The fetchers' TLS client context, when the leaders' listener uses TLS.
    std::shared_ptr<const security::TlsContextSource> inter_broker_tls;
    // A replica was reopened (moved to another log directory): its role is
    // to be applied again from etcd (the broker reconciles).
    std::function<void()> reapply_roles;
  };
  // A partition's state as etcd has it.
  struct Role {
    std::string topic;
    PartitionId partition{0};
    NodeId leader = kNoNode;
    LeaderEpoch leader_epoch{0};
    std::vector<NodeId> replicas;
    std::vector<NodeId> isr;
  };
  // `env`, `flusher` and `shards` must outlive the manager; the flusher runs
  // between start() and stop().
  PartitionManager(Options options, storage::Env* env, storage::Flusher& flusher, ShardSet& shards);
  PartitionManager(const PartitionManager&) = delete;
  PartitionManager& operator=(const PartitionManager&) = delete;

  // The shard that owns a partition: a stable hash of its topic and index.
  Shard& owner(const std::string& topic, int32_t partition);
  // The calling shard's partition; nullptr when it holds no such partition
  // (unknown, not open yet, or offline) or on a thread that is not a shard.
  Partition* partition(const std::string& topic, int32_t partition);
  // Changes whenever a replica of `shard_id` is opened, replaced or closed:
  // until it does, a Partition* found on that shard stays valid. Read on
  // that shard only.
  uint64_t replicas_generation(int shard_id) const { return replicas_generation_[shard_id]; }
  // Whether this node's replica of the partition is offline: it could not be
  // opened at start-up, or went offline since (Partition::offline()). Safe
  // from any thread (Metadata asks on whichever shard it runs).
  bool is_offline(const std::string& topic, int32_t partition) const;

  // Takes the log directories (check_log_dirs()'s, the first first) and
  // lists where their partitions are; opens each file system's directory
  // (for the syncfs at shutdown) and one descriptor cache per shard,
  // `max_open_files` over all of them.
  void start(std::vector<LogDir> log_dirs, int64_t max_open_files);
  // Where each partition replica lives; valid from start().
  const LogDirs& log_dirs() const { return *log_dirs_; }
  // At start-up, once the shards run: opens on every shard at once the
  // partitions of `topics` it owns, running log recovery (a partition that
  // cannot be opened is logged and stays offline: the broker never refuses to
  // start over one partition), then runs `then(shard id)` there (the broker
  // loads its group coordinators from the partitions just opened). Blocks
  // the calling thread until every shard is done.
  void open_all(const std::vector<TopicInfo>& topics, const std::function<void(int shard_id)>& then);
  // Starts the retention and idle-flush timers on every shard, and the log
  // cleaner threads (log.cleaner.enable).
  void start_timers();
  // New log cleaner settings (the dynamic log.cleaner.* keys): threads,
  // backoff, dedupe buffer and I/O limit; log.cleaner.enable stays. Any
  // thread; takes effect at once, or at start_timers() when before it.
  void reconfigure_cleaner(const LogCleanerService::Options& options);
  // Descriptors open through all shards' caches (for the start-up log line).
  size_t open_descriptor_count() const;

  // Opens, on the calling shard, the partitions in [from, to) of `topic` that
  // it owns and this node holds a replica of. KAFKA_STORAGE_ERROR (with `message`) at the first that cannot be
  // opened, unless `tolerant`, which logs it and goes on.
  ErrorCode open_partitions(const TopicInfo& topic, int32_t from, int32_t to, bool tolerant, std::string* message);
  // Drops, on the calling shard, its partitions in [from, to) of `topic` and
  // deletes their directories, durably (DeleteTopics, and undoing a failed
  // creation).
  void drop_partitions(const std::string& topic, int32_t from, int32_t to);
  // Deletes, on every shard, the directories of partitions in [from, to) of
  // `topic` that are not open: before a topic, or new partitions of one, go
  // into the catalogue, so that a directory a deleted topic of the same name
  // left behind (a crash between the catalogue's change and the removal, or
  // a power cut that undid the removal) never shows its records as the new
  // topic's. Returns how many it deleted.
  asio::awaitable<int> clear_stale_everywhere(const std::string& topic, int32_t from, int32_t to);
  // Opens or drops on every shard, from a coroutine on any shard.
  asio::awaitable<ErrorCode> open_everywhere(const TopicInfo& topic, int32_t from, int32_t to, std::string* message);
  asio::awaitable<void> drop_everywhere(const std::string& topic, int32_t from, int32_t to);
  // Pushes a topic's changed configuration to its open partitions.
  asio::awaitable<void> apply_topic_config(const TopicInfo& topic);

  // AlterReplicaLogDirs: moves this node's replica of a partition to log
  // directory `dir_index`, on the calling shard (its owner). The files are
  // copied off the shard while the replica keeps serving (ReplicaCopy);
  // then, on the shard, the replica is closed for the last, exact pass,
  // the copy takes its place and it is opened again there (a moment in which
  // requests for it get NOT_LEADER_OR_FOLLOWER and are retried). NONE once
  // the move started, or when the replica is there already (a move there
  // under way goes on; a move elsewhere is replaced: its copy stops, then
  // the replica moves to `dir_index`, or stays when it is there);
  // REPLICA_NOT_AVAILABLE when no replica of it is open here (it
  // will be created in that directory if it comes, as Kafka remembers it);
  // KAFKA_STORAGE_ERROR when the destination or any directory is offline (a
  // second copy must never be made while the original's directory could be
  // missing).
  ErrorCode move_replica(const std::string& topic, int32_t partition, size_t dir_index);
  // The moves in progress (DescribeLogDirs lists each copy as a future
  // replica). Any thread.
  struct ReplicaMove {
    std::string topic;
    int32_t partition = 0;
    std::filesystem::path to;  // the destination directory
    uint64_t bytes_copied = 0;
    // The copy holds every record below this offset (the original's log end
    // when the last completed pass began); -1 before the first pass ends.
    // The future replica's log end, for its offset lag.
    int64_t copied_to_offset = -1;
  };
  std::vector<ReplicaMove> replica_moves() const;

  void set_replication_hooks(ReplicationHooks hooks) { hooks_ = std::move(hooks); }
  // Applies etcd's partition states to the replicas this node holds, each on
  // its shard: leaders lead in their epoch, followers follow (their fetcher
  // changes with the leader). A state older than the partition's epoch is
  // ignored (stale or reordered notifications are harmless).
  asio::awaitable<void> apply_roles(const std::vector<Role>& roles);

  // Clean shutdown, while the shards still run: (1) on every shard at once,
  // runs `quiesce(shard id)` (the broker stops what appends there, its group
  // coordinator), stops the timers and seals the partitions changed in this
  // run; (2) one syncfs makes every write of the run durable; (3) writes their
  // clean-shutdown markers, forgets every partition and syncs the markers.
  // Returns how many partitions had changed. Does nothing once stopped.
  size_t stop(const std::function<void(int shard_id)>& quiesce);
  bool stopped() const { return stopped_; }

  // Since start-up, how often the ISR of a partition this broker leads shrank
  // or grew: by its own AlterISR, or by the controller fencing a dead broker
  // (Kafka's IsrShrinksPerSec / IsrExpandsPerSec count only the former; in
  // runnel a killed peer is usually fenced before it lags). Any thread.
  uint64_t isr_shrinks() const { return isr_shrinks_.load(std::memory_order_relaxed); }
  uint64_t isr_expands() const { return isr_expands_.load(std::memory_order_relaxed); }

  // The broker's replication throttle (KIP-73): its follower side limits
  // this node's fetchers, its leader side the Fetch handler's answers to
  // followers. Any thread.
  replication::ReplicationThrottle& replication_throttle() { return throttle_; }
  // replica.alter.log.dirs.io.max.bytes.per.second: the bytes per second all
  // moves between log directories copy together, before their last pass
  // (ReplicationThrottle::kUnthrottled: no limit; 0 holds them). Any thread.
  void set_log_dir_move_rate(int64_t bytes_per_second);

 private:
  using PartitionMap = std::unordered_map<std::string, std::unique_ptr<Partition>>;
  static std::string key(const std::string& topic, int32_t partition);
  void run_retention(int shard_id);
  // On shard `shard_id`: deletes the directory of partition `k`, if it has
  // one (returned; its log directory added to `parents`), and forgets it.
  std::optional<std::filesystem::path> destroy_dir(int shard_id, const std::string& k,
                                                   std::set<std::filesystem::path>& parents);
  // fsync of each log directory partitions were removed from.
  void sync_removals(const std::set<std::filesystem::path>& parents);
  // Opens one replica in `dir` on the calling shard (throws on failure).
  void open_replica(const std::string& topic, int32_t partition, const std::filesystem::path& dir,
                    const storage::LogConfig& config);
  struct MoveState {
    std::string topic;
    int32_t partition = 0;
    size_t to = 0;   // index in log_dirs_
    std::string id;  // names the copy and the original (LogDirs::future_name, delete_name)
    std::shared_ptr<ReplicaCopy> copy;
    // Replaced by a move elsewhere (cancelled): where the next one goes once
    // this one has given up; nullopt when the replica stays where it is.
    std::optional<size_t> then_to;
    int64_t copied_to_offset = -1;  // ReplicaMove::copied_to_offset
  };
  // The copy passes and the swap of one move, on the replica's shard.
  asio::awaitable<void> run_move(std::string key);
  // Ends a move that did not complete: its copy goes, the replica stays
  // (and, for a move that was replaced, the next one starts).
  void abandon_move(const std::string& key, const std::string& why);
  template <class F>
  asio::awaitable<bool> on_copy_pool(F& fn);
  void run_idle_flush(int shard_id);
  static constexpr int64_t kMinFlushCheckMs = 10;
  void apply_role(int shard_id, const Role& role);
  // The fetcher of this shard that copies `topic`-`partition` from `leader`
  // (one of num.replica.fetchers, chosen by partition as Kafka does).
  replication::ReplicaFetcher& fetcher(int shard_id, NodeId leader, const std::string& topic, PartitionId partition);
  void unfollow(int shard_id, const std::string& topic, PartitionId partition);
  // The leaders' ISR check: shrinks and expands ISRs through hooks_.alter_isr.
  void run_isr_check(int shard_id);
  // Counts a leader's ISR going from `before` to `after` members. Whichever
  // of AlterISR's answer and etcd's watch comes first changes the ISR; the
  // second finds it changed already and counts nothing.
  void count_isr_change(size_t before, size_t after);

  Options options_;
  storage::Env* env_;
  storage::Flusher& flusher_;
  ShardSet& shards_;
  std::unique_ptr<LogDirs> log_dirs_;
  // One online log directory per file system, opened at start-up so that the
  // syncfs at shutdown reports every writeback error of the run
  // (Env::sync_filesystem). Empty when one could not be opened: then
  // shutdown syncs each partition.
  std::vector<std::shared_ptr<FileHandle>> filesystem_handles_;
  std::vector<std::unique_ptr<storage::FileCache>> file_caches_;  // one per shard
  std::vector<std::shared_ptr<FlushGate>> flush_gates_;           // one per shard
  std::vector<PartitionMap> partitions_;                          // one map per shard, touched only on that shard
  // Per shard, counts the changes of partitions_[shard] that may move or
  // free a replica (each fetcher on the shard caches its lookups until it
  // changes; ReplicaFetcher::Options::replicas_generation). Touched only on
  // that shard; a fixed array, so that the fetchers' pointers stay valid.
  std::unique_ptr<uint64_t[]> replicas_generation_;
  mutable std::mutex offline_mu_;
  std::set<std::string> offline_;  // keys of offline partitions, under offline_mu_
  std::atomic<bool> any_offline_{false};
  void set_offline(const std::string& key, bool offline);
  std::vector<std::unique_ptr<asio::steady_timer>> retention_timers_;
  std::vector<std::unique_ptr<asio::steady_timer>> flush_timers_;
  std::vector<std::unique_ptr<asio::steady_timer>> isr_timers_;
  // Per shard (its own thread): the last ISR check found the broker fenced.
  std::vector<char> isr_check_fenced_;
  ReplicationHooks hooks_;
  // Per shard: the fetcher for each leader broker this shard follows.
  // Per shard: (leader, fetcher id) -> fetcher.
  std::vector<std::map<std::pair<NodeId, int32_t>, std::unique_ptr<replication::ReplicaFetcher>>> fetchers_;
  bool stopped_ = false;
  replication::ReplicationThrottle throttle_;
  std::atomic<uint64_t> isr_shrinks_{0};
  std::atomic<uint64_t> isr_expands_{0};
  // The log cleaner: its planning, swaps and bookkeeping hop to the shards.
  std::unique_ptr<LogCleanerService> cleaner_;  // created under cleaner_mu_
  std::mutex cleaner_mu_;                       // options_.cleaner, cleaner_ creation
  std::vector<LogCleanerService::Candidate> plan_cleaning(int64_t now_ms);
  storage::LogCleaner::SwapOutcome swap_cleaned(const LogCleanerService::Candidate& c,
                                                const storage::CleanedGroup& group);
  void cleaning_done(const LogCleanerService::Candidate& c, const storage::CleanResult& result);
  mutable std::mutex moves_mu_;
  std::map<std::string, MoveState> moves_;  // by partition key, under moves_mu_
  storage::IoThrottler move_throttler_{0};  // every move's early passes
  // The copies' passes, off the shards. Last: destroyed (joined) first.
  asio::thread_pool copy_pool_{1};
};

}  // namespace runnel::cluster
