#include "kafka/broker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <future>
#include <random>

namespace runnel {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

int shard_count(const BrokerConfig& c) {
  if (c.shards > 0) return c.shards;
  return std::max(1u, std::thread::hardware_concurrency());
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Runs fn on `shard` and blocks the calling (non-shard) thread until it is done.
template <class F>
void run_blocking(Shard& shard, F fn) {
  std::promise<void> done;
  asio::co_spawn(shard.executor(), std::move(fn), [&done](std::exception_ptr e) {
    if (e)
      done.set_exception(e);
    else
      done.set_value();
  });
  done.get_future().get();
}

// Runs fn(shard id) on every shard at once and blocks the calling
// (non-shard) thread until all are done.
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

Broker::Broker(BrokerConfig config)
    : config_(std::move(config)),
      shards_(shard_count(config_)),
      topics_(std::filesystem::path(config_.data_dir) / "meta", config_.log),
      partitions_(shards_.size()) {}

Broker::~Broker() { stop(); }

std::string Broker::key(const std::string& topic, int32_t partition) { return topic + "-" + std::to_string(partition); }

std::filesystem::path Broker::partition_dir(const std::string& topic, int32_t partition) const {
  return std::filesystem::path(config_.data_dir) / key(topic, partition);
}

Shard& Broker::owner(const std::string& topic, int32_t partition) {
  return shards_.at(static_cast<int>((fnv1a(topic) + static_cast<uint64_t>(partition)) % shards_.size()));
}

cluster::Partition* Broker::partition(const std::string& topic, int32_t partition) {
  Shard* here = current_shard();
  if (!here) return nullptr;
  auto& map = partitions_[here->id()];
  auto it = map.find(key(topic, partition));
  return it == map.end() ? nullptr : it->second.get();
}

void Broker::set_advertised(std::string host, uint16_t port) {
  if (!config_.advertised_host.empty()) {
    advertised_host_ = config_.advertised_host;
    advertised_port_ = config_.advertised_port ? config_.advertised_port : port;
    return;
  }
  advertised_host_ = (host.empty() || host == "0.0.0.0" || host == "::") ? "127.0.0.1" : host;
  advertised_port_ = port;
}

void Broker::load_cluster_id() {
  auto path = std::filesystem::path(config_.data_dir) / "meta" / "cluster.id";
  if (std::ifstream in(path); in && std::getline(in, cluster_id_) && !cluster_id_.empty()) return;
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::mt19937_64 rng{std::random_device{}()};
  cluster_id_.clear();
  for (int i = 0; i < 22; ++i) cluster_id_ += alphabet[rng() % 64];
  std::ofstream(path) << cluster_id_ << "\n";
}

void Broker::start() {
  std::filesystem::create_directories(std::filesystem::path(config_.data_dir) / "meta");
  topics_.load();
  topics_.set_max_partitions(config_.effective_max_partitions());
  load_cluster_id();
  data_dir_handle_ = storage::Env::posix()->open_dir(config_.data_dir);
  if (!data_dir_handle_) spdlog::warn("cannot open {}: shutdown will sync each partition", config_.data_dir);
  auto per_shard = static_cast<size_t>(std::max<int64_t>(16, config_.effective_max_open_files() / shards_.size()));
  for (int s = 0; s < shards_.size(); ++s)
    file_caches_.push_back(std::make_unique<storage::FileCache>(storage::Env::posix(), per_shard));
  flusher_.start();
  shards_.start();
  auto topics = topics_.all();
  auto offsets_topic = topics_.find(group::kOffsetsTopic);
  offsets_partitions_ = offsets_topic ? offsets_topic->partitions : config_.offsets_topic_num_partitions;
  group::GroupLimits limits{config_.group_min_session_timeout_ms, config_.group_max_session_timeout_ms,
                            config_.group_initial_rebalance_delay_ms};
  for (int s = 0; s < shards_.size(); ++s) {
    coordinators_.push_back(std::make_unique<group::Coordinator>(
        shards_.at(s).io(), limits, /*offset.metadata.max.bytes=*/4096,
        [this](int32_t p) { return partition(group::kOffsetsTopic, p); }, offsets_partitions_,
        config_.offsets_compaction_min_records));
  }
  run_blocking_everywhere(shards_, [this, &topics](int s) {
    for (const auto& t : topics) open_partitions(t, 0, t.partitions, /*tolerant=*/true, nullptr);
    for (int32_t p = 0; p < offsets_partitions_; ++p)
      if (&owner(group::kOffsetsTopic, p) == &shards_.at(s)) coordinators_[s]->load(p);
    coordinators_[s]->start();
  });
  spdlog::info(
      "opened {} partitions of {} topics ({} descriptors cached, limits: {} open files, {} partitions)",
      topics_.total_partitions(), topics.size(),
      [this] {
        size_t n = 0;
        for (auto& c : file_caches_) n += c->open_count();
        return n;
      }(),
      config_.effective_max_open_files(), config_.effective_max_partitions());
  for (int s = 0; s < shards_.size(); ++s) {
    retention_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    flush_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    asio::post(shards_.at(s).executor(), [this, s] {
      run_retention(s);
      run_idle_flush(s);
    });
  }
}

void Broker::run_idle_flush(int shard_id) {
  auto now = now_ms();
  for (auto& [_, p] : partitions_[shard_id]) p->flush_if_idle(now, config_.idle_flush_ms);
  auto& timer = *flush_timers_[shard_id];
  timer.expires_after(std::chrono::milliseconds(config_.idle_flush_ms));
  timer.async_wait([this, shard_id](std::error_code ec) {
    if (!ec) run_idle_flush(shard_id);
  });
}

void Broker::run_retention(int shard_id) {
  auto now = now_ms();
  for (auto& [_, p] : partitions_[shard_id]) {
    try {
      p->enforce_retention(now);
    } catch (const std::exception& e) {
      spdlog::error("retention on {}-{} failed: {}", p->topic(), p->index(), e.what());
    }
  }
  auto& timer = *retention_timers_[shard_id];
  timer.expires_after(std::chrono::milliseconds(config_.retention_check_interval_ms));
  timer.async_wait([this, shard_id](std::error_code ec) {
    if (!ec) run_retention(shard_id);
  });
}

void Broker::stop() {
  if (partitions_.empty()) return;
  auto started = std::chrono::steady_clock::now();
  auto* env = storage::Env::posix();
  bool fast = data_dir_handle_ != nullptr;
  // 1. On every shard at once: stop the timers and coordinators, and seal the
  //    partitions changed in this run (the others' markers still stand).
  std::vector<std::vector<cluster::Partition*>> changed(static_cast<size_t>(shards_.size()));
  run_blocking_everywhere(shards_, [this, fast, &changed](int s) {
    if (s < static_cast<int>(retention_timers_.size())) retention_timers_[s]->cancel();
    if (s < static_cast<int>(flush_timers_.size())) flush_timers_[s]->cancel();
    if (s < static_cast<int>(coordinators_.size())) coordinators_[s]->stop();
    for (auto& [_, p] : partitions_[s]) {
      try {
        if (!fast)
          p->close();
        else if (p->prepare_shutdown())
          changed[s].push_back(p.get());
      } catch (const std::exception& e) {
        spdlog::error("closing {}-{} failed: {}", p->topic(), p->index(), e.what());
      }
    }
  });
  // 2. One syncfs makes every write of the run durable, through whichever
  //    descriptor it was made, instead of thousands of fdatasyncs in a row.
  bool synced = fast && env->sync_filesystem(*data_dir_handle_);
  if (fast && !synced)
    spdlog::error("syncfs of {} failed at shutdown: no clean-shutdown markers, the next start recovers",
                  config_.data_dir);
  // 3. The markers, then once more syncfs to make them durable (a marker lost
  //    to a crash only makes the next start recover).
  size_t changed_count = 0;
  run_blocking_everywhere(shards_, [this, synced, &changed](int s) {
    for (auto* p : changed[s]) p->finish_shutdown(synced);
    partitions_[s].clear();
  });
  for (auto& c : changed) changed_count += c.size();
  if (synced && changed_count && !env->sync_filesystem(*data_dir_handle_))
    spdlog::warn("syncfs of the clean-shutdown markers failed; the next start may recover");
  shards_.stop();
  flusher_.stop();
  partitions_.clear();
  spdlog::info("closed {} partitions ({} changed) in {:.0f} ms", topics_.total_partitions(), changed_count,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
}

ErrorCode Broker::open_partitions(const cluster::TopicInfo& topic, int32_t from, int32_t to, bool tolerant,
                                  std::string* message) {
  Shard* here = current_shard();
  auto& cache = *file_caches_[here->id()];
  for (int32_t p = from; p < to; ++p) {
    if (&owner(topic.name, p) != here) continue;
    try {
      auto log = storage::PartitionLog::open(partition_dir(topic.name, p), topic.log_config, now_ms(),
                                             storage::Env::posix(), &cache);
      partitions_[here->id()][key(topic.name, p)] =
          std::make_unique<cluster::Partition>(topic.name, p, std::move(log), flusher_, *here);
    } catch (const std::exception& e) {
      if (!tolerant) {
        if (message) *message = "cannot open partition " + key(topic.name, p) + ": " + e.what();
        return ErrorCode::KAFKA_STORAGE_ERROR;
      }
      spdlog::error("partition {} stays offline: {}", key(topic.name, p), e.what());
    }
  }
  return ErrorCode::NONE;
}

void Broker::drop_partitions(const std::string& topic, int32_t from, int32_t to) {
  Shard* here = current_shard();
  auto& map = partitions_[here->id()];
  for (int32_t p = from; p < to; ++p) {
    if (&owner(topic, p) != here) continue;
    if (auto it = map.find(key(topic, p)); it != map.end()) {
      it->second->abandon();
      map.erase(it);
    }
    file_caches_[here->id()]->erase_under(partition_dir(topic, p));
    storage::PartitionLog::destroy(partition_dir(topic, p));
  }
}

asio::awaitable<ErrorCode> Broker::open_everywhere(const cluster::TopicInfo& topic, int32_t from, int32_t to,
                                                   std::string* message) {
  for (int s = 0; s < shards_.size(); ++s) {
    auto error = co_await on_shard(shards_.at(s), [this, &topic, from, to, message]() {
      return open_partitions(topic, from, to, /*tolerant=*/false, message);
    });
    if (error != ErrorCode::NONE) co_return error;
  }
  co_return ErrorCode::NONE;
}

asio::awaitable<void> Broker::drop_everywhere(const std::string& topic, int32_t from, int32_t to) {
  for (int s = 0; s < shards_.size(); ++s)
    co_await on_shard(shards_.at(s), [this, &topic, from, to]() {
      drop_partitions(topic, from, to);
      return 0;
    });
}

asio::awaitable<ErrorCode> Broker::create_topic(const std::string& name, int32_t partitions,
                                                const std::map<std::string, std::string>& overrides,
                                                std::string* message, bool internal) {
  auto error = topics_.create(name, partitions, overrides, internal, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  error = co_await open_everywhere(info, 0, info.partitions, message);
  if (error != ErrorCode::NONE) {
    // Nothing half-created stays behind: not in the catalogue, not on disk.
    co_await drop_everywhere(name, 0, info.partitions);
    topics_.remove(name);
    spdlog::error("creating topic {} failed, rolled back: {}", name, message ? *message : "");
    co_return error;
  }
  spdlog::info("created topic {} with {} partitions", name, partitions);
  co_return ErrorCode::NONE;
}

asio::awaitable<ErrorCode> Broker::delete_topic(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.remove(name);
  if (error != ErrorCode::NONE) co_return error;
  co_await drop_everywhere(name, 0, info->partitions);
  spdlog::info("deleted topic {}", name);
  co_return ErrorCode::NONE;
}

asio::awaitable<ErrorCode> Broker::add_partitions(const std::string& name, int32_t total, std::string* message) {
  auto before = topics_.find(name);
  if (!before) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.set_partitions(name, total, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  error = co_await open_everywhere(info, before->partitions, info.partitions, message);
  if (error != ErrorCode::NONE) {
    co_await drop_everywhere(name, before->partitions, info.partitions);
    topics_.restore_partitions(name, before->partitions);
    spdlog::error("adding partitions to {} failed, rolled back: {}", name, message ? *message : "");
  }
  co_return error;
}

asio::awaitable<void> Broker::apply_topic_config(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return;
  for (int s = 0; s < shards_.size(); ++s) {
    co_await on_shard(shards_.at(s), [this, &info, s]() {
      for (int32_t p = 0; p < info->partitions; ++p)
        if (auto it = partitions_[s].find(key(info->name, p)); it != partitions_[s].end())
          it->second->set_config(info->log_config);
      return 0;
    });
  }
}

Shard& Broker::coordinator_shard(const std::string& group_id) {
  return owner(group::kOffsetsTopic, group::offsets_partition_for(group_id, offsets_partitions_));
}

group::Coordinator& Broker::coordinator() { return *coordinators_[current_shard()->id()]; }

asio::awaitable<bool> Broker::ensure_offsets_topic() {
  if (topics_.find(group::kOffsetsTopic)) co_return true;
  std::string message;
  const std::map<std::string, std::string> overrides = {
      {"segment.bytes", std::to_string(config_.offsets_topic_segment_bytes)}};
  auto error = co_await create_topic(group::kOffsetsTopic, offsets_partitions_, overrides, &message, /*internal=*/true);
  co_return error == ErrorCode::NONE || error == ErrorCode::TOPIC_ALREADY_EXISTS;
}

asio::awaitable<std::optional<cluster::TopicInfo>> Broker::find_or_auto_create(const std::string& name, bool allow) {
  if (auto info = topics_.find(name)) co_return info;
  if (!allow || !config_.auto_create_topics || cluster::validate_topic_name(name) != ErrorCode::NONE)
    co_return std::nullopt;
  std::string message;
  const std::map<std::string, std::string> no_overrides;
  auto error = co_await create_topic(name, config_.num_partitions, no_overrides, &message);
  if (error != ErrorCode::NONE && error != ErrorCode::TOPIC_ALREADY_EXISTS) {
    spdlog::warn("auto-creating topic {} failed: {}", name, message);
    co_return std::nullopt;
  }
  co_return topics_.find(name);
}

}  // namespace runnel
