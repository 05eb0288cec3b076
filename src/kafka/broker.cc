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
  load_cluster_id();
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
  for (int s = 0; s < shards_.size(); ++s) {
    run_blocking(shards_.at(s), [this, &topics, s]() -> asio::awaitable<void> {
      for (const auto& t : topics) co_await open_partitions(t, 0, t.partitions);
      for (int32_t p = 0; p < offsets_partitions_; ++p)
        if (&owner(group::kOffsetsTopic, p) == &shards_.at(s)) coordinators_[s]->load(p);
      coordinators_[s]->start();
    });
  }
  for (int s = 0; s < shards_.size(); ++s) {
    retention_timers_.push_back(std::make_unique<asio::steady_timer>(shards_.at(s).io()));
    asio::post(shards_.at(s).executor(), [this, s] { run_retention(s); });
  }
}

void Broker::run_retention(int shard_id) {
  auto now = now_ms();
  for (auto& [_, p] : partitions_[shard_id]) {
    try {
      p->log().enforce_retention(now);
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
  for (int s = 0; s < shards_.size(); ++s) {
    run_blocking(shards_.at(s), [this, s]() -> asio::awaitable<void> {
      if (s < static_cast<int>(retention_timers_.size())) retention_timers_[s]->cancel();
      if (s < static_cast<int>(coordinators_.size())) coordinators_[s]->stop();
      for (auto& [_, p] : partitions_[s]) {
        try {
          p->close();
        } catch (const std::exception& e) {
          spdlog::error("closing {}-{} failed: {}", p->topic(), p->index(), e.what());
        }
      }
      partitions_[s].clear();
      co_return;
    });
  }
  shards_.stop();
  flusher_.stop();
  partitions_.clear();
}

// Opens, on the calling shard, the partitions in [from, to) of `topic` that it owns.
asio::awaitable<void> Broker::open_partitions(const cluster::TopicInfo& topic, int32_t from, int32_t to) {
  Shard* here = current_shard();
  for (int32_t p = from; p < to; ++p) {
    if (&owner(topic.name, p) != here) continue;
    auto log = storage::PartitionLog::open(partition_dir(topic.name, p), topic.log_config, now_ms());
    partitions_[here->id()][key(topic.name, p)] =
        std::make_unique<cluster::Partition>(topic.name, p, std::move(log), flusher_, *here);
  }
  co_return;
}

asio::awaitable<ErrorCode> Broker::create_topic(const std::string& name, int32_t partitions,
                                                const std::map<std::string, std::string>& overrides,
                                                std::string* message, bool internal) {
  auto error = topics_.create(name, partitions, overrides, internal, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  for (int s = 0; s < shards_.size(); ++s)
    co_await on_shard(shards_.at(s), [this, &info]() { return open_partitions(info, 0, info.partitions); });
  spdlog::info("created topic {} with {} partitions", name, partitions);
  co_return ErrorCode::NONE;
}

asio::awaitable<ErrorCode> Broker::delete_topic(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.remove(name);
  if (error != ErrorCode::NONE) co_return error;
  for (int s = 0; s < shards_.size(); ++s) {
    co_await on_shard(shards_.at(s), [this, &info, s]() {
      for (int32_t p = 0; p < info->partitions; ++p) {
        auto it = partitions_[s].find(key(info->name, p));
        if (it == partitions_[s].end()) continue;
        it->second->close();
        partitions_[s].erase(it);
        storage::PartitionLog::destroy(partition_dir(info->name, p));
      }
      return 0;
    });
  }
  spdlog::info("deleted topic {}", name);
  co_return ErrorCode::NONE;
}

asio::awaitable<ErrorCode> Broker::add_partitions(const std::string& name, int32_t total, std::string* message) {
  auto before = topics_.find(name);
  if (!before) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.set_partitions(name, total, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  for (int s = 0; s < shards_.size(); ++s)
    co_await on_shard(shards_.at(s), [this, &info, from = before->partitions]() {
      return open_partitions(info, from, info.partitions);
    });
  co_return ErrorCode::NONE;
}

asio::awaitable<void> Broker::apply_topic_config(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return;
  for (int s = 0; s < shards_.size(); ++s) {
    co_await on_shard(shards_.at(s), [this, &info, s]() {
      for (int32_t p = 0; p < info->partitions; ++p)
        if (auto it = partitions_[s].find(key(info->name, p)); it != partitions_[s].end())
          it->second->log().set_config(info->log_config);
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
