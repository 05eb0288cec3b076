#include "cluster/partition_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <utility>

#include "base/clock.h"
#include "base/thread_name.h"
#include "storage/partition_log.h"

namespace runnel::cluster {
namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Writes a partition's key ("topic-N": its directory's name too) into `out`.
void write_key(std::string& out, const std::string& topic, int32_t partition) {
  out.assign(topic);
  out += '-';
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, partition);
  out.append(digits, end);
}

// Runs fn(shard id) on every shard at once and blocks the calling
// (non-shard) thread until all are done; rethrows the first exception.
template <class F>
void run_blocking_everywhere(ShardSet& shards, F fn) {
  std::vector<std::promise<void>> done(static_cast<size_t>(shards.size()));
  for (int s = 0; s < shards.size(); ++s) {
    asio::co_spawn(
        shards.at(s).executor(),
        [&fn, s]() -> asio::awaitable<void> {
          fn(s);
          co_return;
        },
        [&done, s](std::exception_ptr e) {
          if (e)
            done[s].set_exception(e);
          else
            done[s].set_value();
        });
  }
  std::exception_ptr first;
  for (auto& d : done) {
    try {
      d.get_future().get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace

PartitionManager::PartitionManager(Options options, storage::Env* env, storage::Flusher& flusher, ShardSet& shards)
    : options_(std::move(options)),
      env_(env),
      flusher_(flusher),
      shards_(shards),
      partitions_(shards.size()),
      replicas_generation_(std::make_unique<uint64_t[]>(shards.size())),
      fetchers_(shards.size()) {
  asio::post(copy_pool_, [] { name_this_thread("log-dir-copy"); });
}

std::string PartitionManager::key(const std::string& topic, int32_t partition) {
  std::string out;
  write_key(out, topic, partition);
  return out;
}

Shard& PartitionManager::owner(const std::string& topic, int32_t partition) {
  return shards_.at(static_cast<int>((fnv1a(topic) + static_cast<uint64_t>(partition)) % shards_.size()));
}

Partition* PartitionManager::partition(const std::string& topic, int32_t partition) {
  Shard* here = current_shard();
  if (!here) return nullptr;
  auto& map = partitions_[here->id()];
  // The key built in a buffer kept by the thread: every request looks up
  // each of its partitions, a follower's fetch hundreds each round, and a
  // new string each time cost an allocation apiece.
  thread_local std::string scratch;
  write_key(scratch, topic, partition);
  auto it = map.find(scratch);
  return it == map.end() ? nullptr : it->second.get();
}

bool PartitionManager::is_offline(const std::string& topic, int32_t partition) const {
  if (!any_offline_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(offline_mu_);
  return offline_.count(key(topic, partition)) > 0;
}

void PartitionManager::set_offline(const std::string& k, bool offline) {
  std::lock_guard lock(offline_mu_);
  if (offline)
    offline_.insert(k);
  else
    offline_.erase(k);
  any_offline_.store(!offline_.empty(), std::memory_order_relaxed);
}

void PartitionManager::start(std::vector<LogDir> log_dirs, int64_t max_open_files) {
  log_dirs_ = std::make_unique<LogDirs>(std::move(log_dirs));
  log_dirs_->scan(*env_);
  std::vector<uint64_t> devices;
  for (const auto& dir : log_dirs_->dirs()) {
    if (!dir.online) continue;
    uint64_t device = 0;
    auto handle = env_->open_dir(dir.path);
    if (!handle || !env_->device_of(*handle, &device)) {
      spdlog::warn("cannot open {}: shutdown will sync each partition", dir.path.string());
      filesystem_handles_.clear();
      break;
    }
    if (std::find(devices.begin(), devices.end(), device) != devices.end()) continue;
    devices.push_back(device);
    filesystem_handles_.push_back(std::move(handle));
  }
  auto per_shard = static_cast<size_t>(std::max<int64_t>(16, max_open_files / shards_.size()));
  for (int s = 0; s < shards_.size(); ++s) {
    file_caches_.push_back(std::make_unique<storage::FileCache>(env_, per_shard));
    // A sync request holds up to a handful of descriptors: an eighth of the
    // cache's share keeps them well within the process' limit.
    flush_gates_.push_back(std::make_shared<FlushGate>(std::max<size_t>(8, per_shard / 8)));
  }
}

void PartitionManager::open_all(const std::vector<TopicInfo>& topics, const std::function<void(int shard_id)>& then) {
  run_blocking_everywhere(shards_, [this, &topics, &then](int s) {
    for (const auto& t : topics) open_partitions(t, 0, t.partitions, /*tolerant=*/true, nullptr);
    then(s);
  });
}

size_t PartitionManager::open_descriptor_count() const {
  size_t n = 0;
  for (auto& c : file_caches_) n += c->open_count();
  return n;
}

// Runs fn() on `shard` and blocks the calling (non-shard) thread until it is
// done; rethrows its exception.
template <class F>
auto run_blocking_on(Shard& shard, F fn) -> decltype(fn()) {
  using R = decltype(fn());
  std::promise<R> done;
  asio::post(shard.executor(), [&fn, &done] {
    try {
      done.set_value(fn());
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  return done.get_future().get();
}

std::vector<LogCleanerService::Candidate> PartitionManager::plan_cleaning(int64_t now_ms) {
  std::vector<std::vector<LogCleanerService::Candidate>> per_shard(static_cast<size_t>(shards_.size()));
  run_blocking_everywhere(shards_, [this, now_ms, &per_shard](int s) {
    for (auto& [_, p] : partitions_[s]) {
      try {
        if (auto plan = p->plan_cleaning(now_ms))
          per_shard[s].push_back({p->topic(), p->index().value(), std::move(*plan)});
      } catch (const std::exception& e) {
        spdlog::error("planning the compaction of {}-{} failed: {}", p->topic(), p->index().value(), e.what());
      }
    }
  });
  std::vector<LogCleanerService::Candidate> out;
  for (auto& v : per_shard)
    for (auto& c : v) out.push_back(std::move(c));
  return out;
}

storage::LogCleaner::SwapOutcome PartitionManager::swap_cleaned(const LogCleanerService::Candidate& c,
                                                                const storage::CleanedGroup& group) {
  return run_blocking_on(owner(c.topic, c.partition), [this, &c, &group] {
    Shard* here = current_shard();
    auto it = partitions_[here->id()].find(key(c.topic, c.partition));
    if (it == partitions_[here->id()].end()) return storage::LogCleaner::SwapOutcome::Refused;
    return it->second->swap_cleaned(group);
  });
}

void PartitionManager::cleaning_done(const LogCleanerService::Candidate& c, const storage::CleanResult& result) {
  run_blocking_on(owner(c.topic, c.partition), [this, &c, &result] {
    Shard* here = current_shard();
    auto it = partitions_[here->id()].find(key(c.topic, c.partition));
    if (it != partitions_[here->id()].end()) it->second->cleaning_done(c.plan, result);
    return 0;
  });
}

void PartitionManager::reconfigure_cleaner(const LogCleanerService::Options& options) {
  std::lock_guard lock(cleaner_mu_);
  bool enable = options_.cleaner.enable;
  options_.cleaner = options;
  options_.cleaner.enable = enable;
  if (cleaner_) cleaner_->reconfigure(options_.cleaner);
}

void PartitionManager::start_timers() {
  std::unique_lock cleaner_lock(cleaner_mu_);
  if (options_.cleaner.enable && !cleaner_) {
    cleaner_ = std::make_unique<LogCleanerService>(
        options_.cleaner, env_, [this](int64_t now) { return plan_cleaning(now); },
        [this](const LogCleanerService::Candidate& c, const storage::CleanedGroup& g) { return swap_cleaned(c, g); },
        [this](const LogCleanerService::Candidate& c, const storage::CleanResult& r) { cleaning_done(c, r); });
    cleaner_->start();
  }
  cleaner_lock.unlock();
  for (int s = 0; s < shards_.size(); ++s) {
    retention_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    flush_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    isr_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    isr_check_fenced_.push_back(0);
    asio::post(shards_.at(s).executor(), [this, s] {
      run_retention(s);
      run_idle_flush(s);
      if (options_.replicated) run_isr_check(s);
    });
  }
}

void PartitionManager::run_idle_flush(int shard_id) {
  auto now = wall_clock_ms();
  // Every runnel.idle.flush.ms, or sooner for a topic's flush.ms (at most
  // every kMinFlushCheckMs), and at least every second, so that a topic
  // created or altered with flush.ms meanwhile is found within one.
  constexpr int64_t kMaxFlushCheckMs = 1000;
  int64_t next = std::min<int64_t>(options_.idle_flush_ms, kMaxFlushCheckMs);
  for (auto& [_, p] : partitions_[shard_id]) next = std::min(next, p->flush_if_idle(now, options_.idle_flush_ms));
  // Handles let go by responses since the last round are closed here if the
  // cache is past its budget; the next miss would do it, but an idle broker has none.
  if (static_cast<size_t>(shard_id) < file_caches_.size()) file_caches_[shard_id]->trim();
  next = std::max<int64_t>(next, kMinFlushCheckMs);
  auto& timer = *flush_timers_[shard_id];
  timer.expires_after(std::chrono::milliseconds(next));
  timer.async_wait([this, shard_id](std::error_code ec) {
    if (!ec) run_idle_flush(shard_id);
  });
}

void PartitionManager::run_retention(int shard_id) {
  auto now = wall_clock_ms();
  for (auto& [_, p] : partitions_[shard_id]) {
    try {
      p->enforce_retention(now);
    } catch (const std::exception& e) {
      spdlog::error("retention on {}-{} failed: {}", p->topic(), p->index().value(), e.what());
    }
  }
  auto& timer = *retention_timers_[shard_id];
  timer.expires_after(std::chrono::milliseconds(options_.retention_check_interval_ms));
  timer.async_wait([this, shard_id](std::error_code ec) {
    if (!ec) run_retention(shard_id);
  });
}

void PartitionManager::open_replica(const std::string& topic, int32_t p, const std::filesystem::path& dir,
                                    const storage::LogConfig& config) {
  Shard* here = current_shard();
  auto log = storage::PartitionLog::open(dir, config, wall_clock_ms(), env_, file_caches_[here->id()].get());
  if (log->bytes_truncated_on_open() > 0)
    spdlog::warn(
        "partition {}: recovery after an unclean stop cut {} bytes of torn or corrupt data; the log now "
        "ends at offset {}",
        key(topic, p), log->bytes_truncated_on_open(), log->log_end_offset());
  auto partition =
      std::make_unique<Partition>(topic, PartitionId(p), std::move(log), flusher_, *here, flush_gates_[here->id()]);
  if (options_.replicated) partition->set_replicated(options_.node_id);
  partition->set_on_offline([this, k = key(topic, p)] { set_offline(k, true); });
  set_offline(key(topic, p), false);
  partitions_[here->id()][key(topic, p)] = std::move(partition);
  ++replicas_generation_[here->id()];
}

ErrorCode PartitionManager::open_partitions(const TopicInfo& topic, int32_t from, int32_t to, bool tolerant,
                                            std::string* message) {
  Shard* here = current_shard();
  for (int32_t p = from; p < to; ++p) {
    if (&owner(topic.name, p) != here || !topic.holds(PartitionId(p), options_.node_id)) continue;
    try {
      std::string why;
      auto dir = log_dirs_->locate(key(topic.name, p), /*create=*/!tolerant, &why);
      if (!dir) throw std::runtime_error(why);
      open_replica(topic.name, p, *dir, topic.log_config);
    } catch (const std::exception& e) {
      if (!tolerant) {
        if (message) *message = "cannot open partition " + key(topic.name, p) + ": " + e.what();
        return ErrorCode::KAFKA_STORAGE_ERROR;
      }
      spdlog::error("partition {} stays offline: {}", key(topic.name, p), e.what());
      set_offline(key(topic.name, p), true);
    }
  }
  return ErrorCode::NONE;
}

void PartitionManager::drop_partitions(const std::string& topic, int32_t from, int32_t to) {
  Shard* here = current_shard();
  auto& map = partitions_[here->id()];
  std::set<std::filesystem::path> parents;  // synced once each, after the removals
  for (int32_t p = from; p < to; ++p) {
    if (&owner(topic, p) != here) continue;
    unfollow(here->id(), topic, PartitionId(p));
    if (auto it = map.find(key(topic, p)); it != map.end()) {
      if (it->second->is_leader() && options_.replicated && hooks_.on_leadership)
        hooks_.on_leadership(here->id(), topic, p, false);
      it->second->abandon();
      map.erase(it);
      ++replicas_generation_[here->id()];
    }
    set_offline(key(topic, p), false);
    destroy_dir(here->id(), key(topic, p), parents);
  }
  sync_removals(parents);
}

std::optional<std::filesystem::path> PartitionManager::destroy_dir(int shard_id, const std::string& k,
                                                                   std::set<std::filesystem::path>& parents) {
  auto dir = log_dirs_->find(k);
  if (dir) {
    file_caches_[shard_id]->erase_under(*dir);
    storage::PartitionLog::destroy(*dir);
    parents.insert(dir->parent_path());
  }
  log_dirs_->forget(k);
  return dir;
}

// TopicTable refuses more (CreateTopics, CreatePartitions).
constexpr int32_t kMaxPartitionsPerTopic = 100000;

void PartitionManager::sync_removals(const std::set<std::filesystem::path>& parents) {
  // The removals are durable before the caller changes the catalogue; a
  // failure leaves a directory that a later creation of the same name
  // clears (clear_stale_everywhere).
  for (const auto& parent : parents)
    if (!env_->sync_dir(parent))
      spdlog::warn("cannot sync {} after removing partitions: {}", parent.string(), std::strerror(errno));
}

asio::awaitable<int> PartitionManager::clear_stale_everywhere(const std::string& topic, int32_t from, int32_t to) {
  to = std::min(to, kMaxPartitionsPerTopic);  // a request's count, not yet validated
  int cleared = 0;
  for (int s = 0; s < shards_.size(); ++s)
    cleared += co_await on_shard(shards_.at(s), [this, &topic, from, to, s]() {
      int here = 0;
      std::set<std::filesystem::path> parents;
      for (int32_t p = from; p < to; ++p) {
        const auto k = key(topic, p);
        if (&owner(topic, p) != &shards_.at(s) || partitions_[s].count(k)) continue;
        if (auto dir = destroy_dir(s, k, parents)) {
          spdlog::warn("partition {}: removed {}, left by a deleted topic of the same name", k, dir->string());
          ++here;
        }
      }
      sync_removals(parents);
      return here;
    });
  co_return cleared;
}

asio::awaitable<ErrorCode> PartitionManager::open_everywhere(const TopicInfo& topic, int32_t from, int32_t to,
                                                             std::string* message) {
  for (int s = 0; s < shards_.size(); ++s) {
    auto error = co_await on_shard(shards_.at(s), [this, &topic, from, to, message]() {
      return open_partitions(topic, from, to, /*tolerant=*/false, message);
    });
    if (error != ErrorCode::NONE) co_return error;
  }
  co_return ErrorCode::NONE;
}

asio::awaitable<void> PartitionManager::drop_everywhere(const std::string& topic, int32_t from, int32_t to) {
  for (int s = 0; s < shards_.size(); ++s)
    co_await on_shard(shards_.at(s), [this, &topic, from, to]() {
      drop_partitions(topic, from, to);
      return 0;
    });
}

asio::awaitable<void> PartitionManager::apply_topic_config(const TopicInfo& topic) {
  for (int s = 0; s < shards_.size(); ++s) {
    co_await on_shard(shards_.at(s), [this, &topic, s]() {
      for (int32_t p = 0; p < topic.partitions; ++p)
        if (auto it = partitions_[s].find(key(topic.name, p)); it != partitions_[s].end())
          it->second->set_config(topic.log_config);
      return 0;
    });
  }
}

asio::awaitable<void> PartitionManager::apply_roles(const std::vector<Role>& roles) {
  for (int s = 0; s < shards_.size(); ++s) {
    co_await on_shard(shards_.at(s), [this, &roles, s]() {
      for (const auto& role : roles)
        if (&owner(role.topic, role.partition.value()) == &shards_.at(s)) apply_role(s, role);
      return 0;
    });
  }
}

void PartitionManager::apply_role(int shard_id, const Role& role) {
  auto it = partitions_[shard_id].find(key(role.topic, role.partition.value()));
  if (it == partitions_[shard_id].end()) return;
  Partition& p = *it->second;
  if (role.leader_epoch < p.leader_epoch()) return;  // stale
  const bool was_leader = p.is_leader();
  const NodeId old_leader = p.leader();
  if (role.leader == options_.node_id) {
    if (!was_leader) unfollow(shard_id, role.topic, role.partition);
    if (was_leader && role.leader_epoch == p.leader_epoch()) count_isr_change(p.isr().size(), role.isr.size());
    p.become_leader(role.leader_epoch, role.replicas, role.isr, wall_clock_ms());
    if (!was_leader && hooks_.on_leadership) hooks_.on_leadership(shard_id, role.topic, role.partition.value(), true);
    return;
  }
  if (!was_leader && role.leader >= NodeId(0) && old_leader == role.leader && role.leader_epoch == p.leader_epoch())
    return;  // already following it
  p.become_follower(role.leader, role.leader_epoch);
  if (was_leader && hooks_.on_leadership) hooks_.on_leadership(shard_id, role.topic, role.partition.value(), false);
  if (old_leader != role.leader || was_leader) unfollow(shard_id, role.topic, role.partition);
  if (role.leader >= NodeId(0))
    fetcher(shard_id, role.leader, role.topic, role.partition).add(role.topic, role.partition);
}

void PartitionManager::count_isr_change(size_t before, size_t after) {
  if (after < before) isr_shrinks_.fetch_add(1, std::memory_order_relaxed);
  if (after > before) isr_expands_.fetch_add(1, std::memory_order_relaxed);
}

replication::ReplicaFetcher& PartitionManager::fetcher(int shard_id, NodeId leader, const std::string& topic,
                                                       PartitionId partition) {
  // Kafka's AbstractFetcherManager.getFetcherId: abs(31 * topic.hashCode + partition) % fetchers.
  int32_t h = 0;
  for (unsigned char c : topic) h = static_cast<int32_t>(31u * static_cast<uint32_t>(h) + c);
  const int32_t mixed = static_cast<int32_t>(31u * static_cast<uint32_t>(h) + static_cast<uint32_t>(partition.value()));
  const int32_t id = (mixed & 0x7fffffff) % std::max(1, options_.num_replica_fetchers);
  auto& slot = fetchers_[shard_id][{leader, id}];
  if (!slot) {
    replication::ReplicaFetcher::Options o;
    o.self = options_.node_id;
    o.leader = leader;
    o.max_wait_ms = options_.replica_fetch_wait_max_ms;
    o.partition_max_bytes = options_.replica_fetch_max_bytes;
    o.sasl = options_.inter_broker_sasl;
    o.tls = hooks_.inter_broker_tls;
    o.throttle = &throttle_;
    o.replicas_generation = &replicas_generation_[shard_id];
    slot = std::make_unique<replication::ReplicaFetcher>(
        shards_.at(shard_id).io(), o, hooks_.resolve,
        [this, shard_id](const std::string& topic, PartitionId p) -> replication::FollowerReplica* {
          auto it = partitions_[shard_id].find(key(topic, p.value()));
          return it == partitions_[shard_id].end() ? nullptr : it->second.get();
        });
    slot->start();
  }
  return *slot;
}

void PartitionManager::unfollow(int shard_id, const std::string& topic, PartitionId partition) {
  auto& fetchers = fetchers_[shard_id];
  for (auto it = fetchers.begin(); it != fetchers.end();) {
    it->second->remove(topic, partition);
    if (it->second->empty()) {
      it->second->stop();
      it = fetchers.erase(it);
    } else {
      ++it;
    }
  }
}

void PartitionManager::run_isr_check(int shard_id) {
  auto now = wall_clock_ms();
  const bool fenced = hooks_.fenced && hooks_.fenced();
  const bool was_fenced = std::exchange(isr_check_fenced_[shard_id], fenced ? 1 : 0);
  for (auto& [_, p] : partitions_[shard_id]) {
    if (!p->is_leader() || !hooks_.alter_isr) continue;
    // A fenced leader answers no fetch, so its followers' lag says nothing
    // (an etcd outage fences every broker at once: without this, each leader
    // shrank its ISR to itself as soon as etcd was back).
    if (fenced) continue;
    if (was_fenced) p->restart_follower_lag_clocks(now);
    if (p->offline()) {
      // Its followers cannot read from it, so the ISR must not shrink to it:
      // it hands over instead, and tries again while nobody can take over.
      if (!hooks_.resign_offline_leader || p->isr_change_in_flight()) continue;
      p->isr_change_started();
      asio::co_spawn(
          shards_.at(shard_id).executor(),
          [this, shard_id, topic = p->topic(), index = p->index(),
           epoch = p->leader_epoch()]() -> asio::awaitable<void> {
            (void)co_await hooks_.resign_offline_leader(topic, index, epoch);
            auto it = partitions_[shard_id].find(key(topic, index.value()));
            if (it == partitions_[shard_id].end()) co_return;
            it->second->isr_change_finished(false, {}, wall_clock_ms());
          },
          asio::detached);
      continue;
    }
    auto proposal = p->proposed_isr(now, options_.replica_lag_time_max_ms);
    if (!proposal) continue;
    p->isr_change_started();
    asio::co_spawn(
        shards_.at(shard_id).executor(),
        [this, shard_id, topic = p->topic(), index = p->index(), epoch = p->leader_epoch(),
         isr = *proposal]() -> asio::awaitable<void> {
          auto error = co_await hooks_.alter_isr(topic, index, epoch, isr);
          auto it = partitions_[shard_id].find(key(topic, index.value()));
          if (it == partitions_[shard_id].end()) co_return;
          Partition& q = *it->second;
          if (!q.is_leader() || q.leader_epoch() != epoch) co_return;
          if (error == ErrorCode::NONE) count_isr_change(q.isr().size(), isr.size());
          q.isr_change_finished(error == ErrorCode::NONE, isr, wall_clock_ms());
        },
        asio::detached);
  }
  auto& timer = *isr_timers_[shard_id];
  // Kafka checks every replica.lag.time.max.ms / 2; expansion is checked
  // here too, so not less often than every 250 ms.
  auto interval = std::clamp<int64_t>(options_.replica_lag_time_max_ms / 2, 10, 250);
  timer.expires_after(std::chrono::milliseconds(interval));
  timer.async_wait([this, shard_id](std::error_code ec) {
    if (!ec) run_isr_check(shard_id);
  });
}

void PartitionManager::set_log_dir_move_rate(int64_t bytes_per_second) {
  // 0 holds the copies, as Kafka's quota of 0 does (one byte a second: the
  // next change of the rate wakes them); IoThrottler takes 0 for no limit.
  if (bytes_per_second >= replication::ReplicationThrottle::kUnthrottled)
    move_throttler_.set_rate(0.0);
  else
    move_throttler_.set_rate(std::max<double>(1.0, static_cast<double>(bytes_per_second)));
}

size_t PartitionManager::stop(const std::function<void(int shard_id)>& quiesce) {
  if (stopped_) return 0;
  {
    // A copy pass (throttled, or long) must not hold up the stop: it gives
    // up, and the next start removes its copy.
    std::lock_guard lock(moves_mu_);
    for (auto& [_, m] : moves_) {
      m.then_to.reset();
      m.copy->cancel();
    }
  }
  // The cleaner first: its threads wait on the shards, which still run.
  if (cleaner_) cleaner_->stop();
  bool fast = !filesystem_handles_.empty();
  // Each step's time since the previous one, for the log line at the end.
  int64_t step_start = monotonic_ns();
  auto step_ms = [&step_start] {
    const int64_t now = monotonic_ns();
    const double ms = static_cast<double>(now - step_start) / 1e6;
    step_start = now;
    return ms;
  };
  // 1. On every shard at once: stop the timers and what appends, and seal the
  //    partitions changed in this run (the others' markers still stand).
  std::vector<std::vector<Partition*>> changed(static_cast<size_t>(shards_.size()));
  run_blocking_everywhere(shards_, [this, fast, &changed, &quiesce](int s) {
    if (s < static_cast<int>(retention_timers_.size())) retention_timers_[s]->cancel();
    if (s < static_cast<int>(flush_timers_.size())) flush_timers_[s]->cancel();
    if (s < static_cast<int>(isr_timers_.size())) isr_timers_[s]->cancel();
    // Followers stop copying before their logs are sealed.
    for (auto& [_, f] : fetchers_[s]) f->stop();
    fetchers_[s].clear();
    quiesce(s);
    for (auto& [_, p] : partitions_[s]) {
      try {
        if (!fast)
          p->close();
        else if (p->prepare_shutdown())
          changed[s].push_back(p.get());
      } catch (const std::exception& e) {
        spdlog::error("closing {}-{} failed: {}", p->topic(), p->index().value(), e.what());
      }
    }
  });
  // 2. One syncfs makes every write of the run durable, through whichever
  //    descriptor it was made, instead of thousands of fdatasyncs in a row.
  auto sync_all = [this] {
    bool ok = true;
    for (const auto& handle : filesystem_handles_) ok = env_->sync_filesystem(*handle) && ok;
    return ok;
  };
  const double sealed_ms = step_ms();
  size_t changed_count = 0;
  for (auto& c : changed) changed_count += c.size();
  // Nothing changed, nothing to sync (it still took 0.3 s after reading
  // 50,000 segments: their access times).
  bool synced = fast && (changed_count == 0 || sync_all());
  const double synced_ms = step_ms();
  if (fast && !synced)
    spdlog::error(
        "syncfs of the log directories failed at shutdown: no clean-shutdown markers, the next start "
        "recovers");
  // 3. The markers, then once more syncfs to make them durable (a marker lost
  //    to a crash only makes the next start recover).
  run_blocking_everywhere(shards_, [this, synced, &changed](int s) {
    for (auto* p : changed[s]) p->finish_shutdown(synced);
    partitions_[s].clear();
    ++replicas_generation_[s];
  });
  const double marked_ms = step_ms();
  if (synced && changed_count && !sync_all())
    spdlog::warn("syncfs of the clean-shutdown markers failed; the next start may recover");
  spdlog::info(
      "shutdown of the partitions: sealed in {:.0f} ms, syncfs {:.0f} ms, markers and close {:.0f} ms, syncfs {:.0f} "
      "ms",
      sealed_ms, synced_ms, marked_ms, step_ms());
  stopped_ = true;
  return changed_count;
}

// ---------- moving a replica to another log directory ----------

template <class F>
asio::awaitable<bool> PartitionManager::on_copy_pool(F& fn) {
  co_return co_await asio::co_spawn(
      copy_pool_.get_executor(), [&fn]() -> asio::awaitable<bool> { co_return fn(); }, asio::use_awaitable);
}

ErrorCode PartitionManager::move_replica(const std::string& topic, int32_t partition, size_t dir_index) {
  Shard* here = current_shard();
  const auto k = key(topic, partition);
  const auto& dirs = log_dirs_->dirs();
  auto it = partitions_[here->id()].find(k);
  if (it == partitions_[here->id()].end()) {
    if (is_offline(topic, partition)) return ErrorCode::KAFKA_STORAGE_ERROR;
    // Not held (yet): created there if it comes (a reassignment adding it).
    log_dirs_->prefer(k, dir_index);
    return ErrorCode::REPLICA_NOT_AVAILABLE;
  }
  if (it->second->offline()) return ErrorCode::KAFKA_STORAGE_ERROR;
  if (dir_index >= dirs.size() || !dirs[dir_index].online) return ErrorCode::KAFKA_STORAGE_ERROR;
  // Kafka makes no future log while a directory is offline: the original
  // could be on it, and there would be two.
  for (const auto& d : dirs)
    if (!d.online) return ErrorCode::KAFKA_STORAGE_ERROR;
  auto from = log_dirs_->find(k);
  if (!from) return ErrorCode::REPLICA_NOT_AVAILABLE;
  const bool stays = from->parent_path() == dirs[dir_index].path;
  std::unique_lock lock(moves_mu_);
  if (auto m = moves_.find(k); m != moves_.end()) {
    if (m->second.to == dir_index) return ErrorCode::NONE;
    // As Kafka: a move under way is replaced. Its copy stops and goes
    // (run_move checks after every yield; its last pass, which never yields,
    // cannot be under way while this runs on the same shard), then the new
    // one starts, unless the replica is asked to stay where it is.
    m->second.then_to = stays ? std::nullopt : std::optional<size_t>(dir_index);
    m->second.copy->cancel();
    const auto was_to = dirs[m->second.to].path.string();
    lock.unlock();
    spdlog::info("partition {}: the move to {} is replaced: {}", k, was_to,
                 stays ? "it stays in " + from->parent_path().string() : "to " + dirs[dir_index].path.string());
    return ErrorCode::NONE;
  }
  if (stays) return ErrorCode::NONE;
  static std::atomic<uint64_t> next_id{0};
  const auto id = std::to_string(wall_clock_ms()) + std::to_string(next_id++);
  auto copy =
      std::make_shared<ReplicaCopy>(*from, dirs[dir_index].path / LogDirs::future_name(k, id), &move_throttler_);
  moves_[k] = {topic, partition, dir_index, id, std::move(copy), std::nullopt, -1};
  lock.unlock();
  spdlog::info("partition {}: moving from {} to {}", k, from->parent_path().string(), dirs[dir_index].path.string());
  // Started after this returns (co_spawn could run it inline).
  asio::post(here->executor(), [this, k, here] {
    asio::co_spawn(
        here->executor(), [this, k]() -> asio::awaitable<void> { co_await run_move(k); }, asio::detached);
  });
  return ErrorCode::NONE;
}

std::vector<PartitionManager::ReplicaMove> PartitionManager::replica_moves() const {
  std::vector<ReplicaMove> out;
  std::lock_guard lock(moves_mu_);
  for (const auto& [k, m] : moves_)
    out.push_back({m.topic, m.partition, log_dirs_->dirs()[m.to].path, m.copy->bytes_copied(), m.copied_to_offset});
  return out;
}

void PartitionManager::abandon_move(const std::string& k, const std::string& why) {
  std::shared_ptr<ReplicaCopy> copy;
  std::optional<size_t> then_to;
  std::string topic;
  int32_t partition = 0;
  {
    std::lock_guard lock(moves_mu_);
    auto it = moves_.find(k);
    if (it == moves_.end()) return;
    copy = it->second.copy;
    then_to = it->second.then_to;
    topic = it->second.topic;
    partition = it->second.partition;
    moves_.erase(it);
  }
  if (copy->cancelled())
    spdlog::info("partition {}: the replaced move stopped; its copy goes", k);
  else
    spdlog::error("partition {}: the move to another log directory did not complete ({}); it stays where it was", k,
                  why);
  std::error_code ec;
  std::filesystem::remove_all(copy->destination(), ec);
  if (then_to) (void)move_replica(topic, partition, *then_to);
}

asio::awaitable<void> PartitionManager::run_move(std::string k) {
  const int shard_id = current_shard()->id();
  std::shared_ptr<ReplicaCopy> copy;
  std::string topic, id;
  int32_t index = 0;
  size_t to = 0;
  {
    std::lock_guard lock(moves_mu_);
    const auto& m = moves_.at(k);
    copy = m.copy;
    topic = m.topic;
    index = m.partition;
    to = m.to;
    id = m.id;
  }
  auto find = [this, shard_id, &k]() -> Partition* {
    auto it = partitions_[shard_id].find(k);
    return it == partitions_[shard_id].end() ? nullptr : it->second.get();
  };
  Partition* p = find();
  if (!p) {
    abandon_move(k, "the replica went");
    co_return;
  }
  const uint64_t log_id = p->log_id();
  const uint64_t truncations = p->truncations();
  // Two passes while the replica serves (the second catches up with what
  // was appended during the first), made durable off the shard too.
  std::string error;
  bool ok = true;
  auto early = [&copy, &error] { return copy->pass(false, false, &error); };
  auto sync = [&copy, &error] { return copy->sync(&error); };
  for (int i = 0; i < 2 && ok; ++i) {
    // Appends are written to the segment files as they come: a pass that
    // starts now copies at least what lies below the log end now.
    const int64_t end_before = p->log_end_offset().value();
    ok = co_await on_copy_pool(early);
    p = find();
    if (!p || p->log_id() != log_id) {
      abandon_move(k, "the replica went");  // nothing more to copy or sync
      co_return;
    }
    if (ok) {
      std::lock_guard lock(moves_mu_);
      if (auto it = moves_.find(k); it != moves_.end()) it->second.copied_to_offset = end_before;
    }
  }
  if (ok) ok = co_await on_copy_pool(sync);
  p = find();
  if (!ok || !p || p->log_id() != log_id) {
    abandon_move(k, ok ? "the replica went" : error);
    co_return;
  }
  // What is appended is made durable first (acks=all waiters answered), so
  // that closing it fails nobody's request that could be answered.
  if (p->log_end_offset() > p->log_start_offset())
    (void)co_await p->wait_durable(Offset(p->log_end_offset().value() - 1));
  p = find();
  if (!p || p->log_id() != log_id || copy->cancelled()) {
    abandon_move(k, copy->cancelled() ? "cancelled" : "the replica went");
    co_return;
  }
  // From here on nothing yields: no append can come between the last pass
  // and the swap. The replica is closed as at a clean stop (its recovery
  // point, producer snapshot and marker written), so that the copy opens
  // without recovery; its waiters are answered.
  const auto from = *log_dirs_->find(k);
  const auto to_dir = log_dirs_->dirs()[to].path;
  const auto config = p->config();
  const bool cut = p->truncations() != truncations;
  // What the replica's closed moment costs (the shard is held): logged.
  const auto closed_at = std::chrono::steady_clock::now();
  const uint64_t copied_before_last = copy->bytes_copied();
  unfollow(shard_id, topic, PartitionId(index));
  if (p->is_leader() && options_.replicated && hooks_.on_leadership)
    hooks_.on_leadership(shard_id, topic, index, false);
  try {
    p->close();
  } catch (const std::exception& e) {
    error = std::string("closing it failed: ") + e.what();
  }
  partitions_[shard_id].erase(k);
  ++replicas_generation_[shard_id];
  file_caches_[shard_id]->erase_under(from);
  const auto original = from.parent_path() / LogDirs::delete_name(k, id);
  std::filesystem::path open_at = from;
  if (!error.empty() || !copy->pass(true, cut, &error) || !copy->sync(&error)) {
    // The original opens again where it is.
  } else if (!env_->rename(from, original) || !env_->sync_dir(from.parent_path())) {
    error = "cannot rename " + from.string() + ": " + std::strerror(errno);
  } else if (!env_->rename(copy->destination(), to_dir / k) || !env_->sync_dir(to_dir)) {
    error = "cannot rename " + copy->destination().string() + ": " + std::strerror(errno);
    if (!env_->rename(original, from) || !env_->sync_dir(from.parent_path()))
      spdlog::error("partition {}: cannot rename {} back ({}); the next start does", k, original.string(),
                    std::strerror(errno));
  } else {
    log_dirs_->relocate(k, to);
    open_at = to_dir / k;
    storage::PartitionLog::destroy(original);
  }
  try {
    open_replica(topic, index, open_at, config);
  } catch (const std::exception& e) {
    spdlog::error("partition {} stays offline: {}", k, e.what());
    set_offline(k, true);
  }
  const auto closed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - closed_at).count();
  if (options_.replicated && hooks_.reapply_roles) hooks_.reapply_roles();
  if (!error.empty()) {
    abandon_move(k, error);
    co_return;
  }
  {
    std::lock_guard lock(moves_mu_);
    moves_.erase(k);
  }
  spdlog::info("partition {}: moved to {} ({} bytes copied; closed for {} ms, the last pass copied {} bytes{})", k,
               to_dir.string(), copy->bytes_copied(), closed_ms, copy->bytes_copied() - copied_before_last,
               cut ? ", all of it: the log was cut meanwhile" : "");
}

}  // namespace runnel::cluster
