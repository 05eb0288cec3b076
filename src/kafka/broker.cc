#include "kafka/broker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "cluster/node_meta.h"

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

}  // namespace

Broker::Broker(BrokerConfig config)
    : config_(std::move(config)),
      shards_(shard_count(config_)),
      topics_(std::filesystem::path(config_.data_dir) / "meta", config_.log),
      partitions_({.data_dir = config_.data_dir,
                   .retention_check_interval_ms = config_.retention_check_interval_ms,
                   .idle_flush_ms = config_.idle_flush_ms},
                  storage::Env::posix(), flusher_, shards_) {}

Broker::~Broker() { stop(); }

Shard& Broker::owner(const std::string& topic, int32_t partition) { return partitions_.owner(topic, partition); }

cluster::Partition* Broker::partition(const std::string& topic, int32_t partition) {
  return partitions_.partition(topic, partition);
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

void Broker::load_identity() {
  auto* env = storage::Env::posix();
  auto stored = cluster::load_node_meta(*env, config_.data_dir);
  std::string proposed = stored ? stored->cluster_id : cluster::random_cluster_id();
  if (config_.clustered()) {
    cluster::ControlPlaneOptions options;
    options.client.endpoints = cluster::etcd::parse_endpoints(config_.etcd_endpoints);
    options.node_id = config_.node_id;
    options.session_ttl_seconds = (config_.broker_session_timeout_ms + 999) / 1000;
    control_plane_ = std::make_unique<cluster::ControlPlane>(options);
    if (auto status = control_plane_->join_cluster(proposed, cluster_id_); !status.is_ok())
      throw std::runtime_error("cannot reach etcd at " + config_.etcd_endpoints + ": " + status.to_string());
  } else {
    cluster_id_ = proposed;
  }
  if (stored) {
    if (auto why = cluster::identity_mismatch(*stored, config_.node_id, config_.clustered() ? cluster_id_ : ""))
      throw std::runtime_error(*why);
  }
  if (!stored || stored->node_id < 0) {
    if (!cluster::store_node_meta(*env, config_.data_dir, {cluster_id_, config_.node_id}))
      throw std::runtime_error("cannot write " +
                               (std::filesystem::path(config_.data_dir) / "meta.properties").string() + ": " +
                               std::strerror(errno));
  }
}

void Broker::join_cluster() {
  if (!control_plane_) return;
  cluster::metadata::BrokerRecord self{config_.node_id, advertised_host_, advertised_port_, config_.rack};
  if (auto status = control_plane_->start(self); !status.is_ok())
    throw std::runtime_error("cannot join the cluster: " + status.to_string());
}

std::vector<Broker::Endpoint> Broker::cluster_brokers() const {
  if (!control_plane_) return {Endpoint{config_.node_id, advertised_host_, advertised_port_, config_.rack}};
  std::vector<Endpoint> out;
  for (const auto& b : control_plane_->cache().brokers()) out.push_back({b.node_id, b.host, b.port, b.rack});
  return out;
}

int32_t Broker::controller_id() const {
  return control_plane_ ? control_plane_->cache().controller_id() : config_.node_id;
}

void Broker::start() {
  std::filesystem::create_directories(std::filesystem::path(config_.data_dir) / "meta");
  load_identity();
  topics_.load();
  topics_.set_max_partitions(config_.effective_max_partitions());
  partitions_.start(config_.effective_max_open_files());
  flusher_.start();
  shards_.start();
  shards_started_ = true;
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
  partitions_.open_all(topics, [this](int s) {
    for (int32_t p = 0; p < offsets_partitions_; ++p)
      if (&owner(group::kOffsetsTopic, p) == &shards_.at(s)) coordinators_[s]->load(p);
    coordinators_[s]->start();
  });
  spdlog::info("opened {} partitions of {} topics ({} descriptors cached, limits: {} open files, {} partitions)",
               topics_.total_partitions(), topics.size(), partitions_.open_descriptor_count(),
               config_.effective_max_open_files(), config_.effective_max_partitions());
  partitions_.start_timers();
}

void Broker::stop() {
  if (control_plane_) control_plane_->stop();
  if (!shards_started_) {
    // start() failed before the shards ran (the data dir's identity was
    // refused, etcd unreachable): nothing is open, nothing to seal.
    flusher_.stop();
    return;
  }
  if (partitions_.stopped()) return;
  auto started = std::chrono::steady_clock::now();
  // The coordinators stop on their shards right before the partitions they
  // append to are sealed.
  size_t changed_count = partitions_.stop([this](int s) {
    if (s < static_cast<int>(coordinators_.size())) coordinators_[s]->stop();
  });
  shards_.stop();
  flusher_.stop();
  spdlog::info("closed {} partitions ({} changed) in {:.0f} ms", topics_.total_partitions(), changed_count,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
}

asio::awaitable<ErrorCode> Broker::create_topic(const std::string& name, int32_t partitions,
                                                const std::map<std::string, std::string>& overrides,
                                                std::string* message, bool internal) {
  auto error = topics_.create(name, partitions, overrides, internal, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  error = co_await partitions_.open_everywhere(info, 0, info.partitions, message);
  if (error != ErrorCode::NONE) {
    // Nothing half-created stays behind: not in the catalogue, not on disk.
    co_await partitions_.drop_everywhere(name, 0, info.partitions);
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
  co_await partitions_.drop_everywhere(name, 0, info->partitions);
  spdlog::info("deleted topic {}", name);
  co_return ErrorCode::NONE;
}

asio::awaitable<ErrorCode> Broker::add_partitions(const std::string& name, int32_t total, std::string* message) {
  auto before = topics_.find(name);
  if (!before) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.set_partitions(name, total, message);
  if (error != ErrorCode::NONE) co_return error;
  auto info = *topics_.find(name);
  error = co_await partitions_.open_everywhere(info, before->partitions, info.partitions, message);
  if (error != ErrorCode::NONE) {
    co_await partitions_.drop_everywhere(name, before->partitions, info.partitions);
    topics_.restore_partitions(name, before->partitions);
    spdlog::error("adding partitions to {} failed, rolled back: {}", name, message ? *message : "");
  }
  co_return error;
}

asio::awaitable<void> Broker::apply_topic_config(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return;
  co_await partitions_.apply_topic_config(*info);
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
