// Broker: creating, deleting and growing topics, and their config
// overrides (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs),
// on a single node in its catalogue, in a cluster through the controller.
#include <spdlog/spdlog.h>

#include "config/topic_config.h"
#include "kafka/broker.h"

namespace runnel {

asio::awaitable<ErrorCode> Broker::create_topic(const std::string& name, int32_t partitions,
                                                const std::map<std::string, std::string>& overrides,
                                                std::string* message, bool internal) {
  co_return co_await create_topic(name, partitions, -1, nullptr, overrides, message, internal);
}

asio::awaitable<ErrorCode> Broker::create_topic(const std::string& name, int32_t partitions, int16_t replication_factor,
                                                const cluster::controller::Assignment* manual,
                                                const std::map<std::string, std::string>& overrides,
                                                std::string* message, bool internal) {
  if (replication_factor == -1) replication_factor = config_.default_replication_factor;
  if (manual && !manual->empty()) {
    partitions = static_cast<int32_t>(manual->size());
    replication_factor = static_cast<int16_t>((*manual)[0].size());
  }
  if (replication_factor > 1 && !control_plane_) {
    if (message)
      *message = "Replication factor: " + std::to_string(replication_factor) + " larger than available brokers: 1.";
    co_return ErrorCode::INVALID_REPLICATION_FACTOR;
  }
  if (control_plane_) {
    // Checked here so that the cluster never holds a topic no broker can open.
    if (auto e = cluster::validate_topic_name(name); e != ErrorCode::NONE) {
      if (message) *message = "Topic name \"" + name + "\" is illegal";
      co_return e;
    }
    if (partitions <= 0 || partitions > 100000) {
      if (message) *message = "Number of partitions must be larger than 0.";
      co_return ErrorCode::INVALID_PARTITIONS;
    }
    try {
      (void)topic_log_config(topics_.defaults(), overrides);
    } catch (const ConfigError& e) {
      if (message) *message = e.what();
      co_return ErrorCode::INVALID_CONFIG;
    }
    auto create = [&]() {
      return control_plane_->create_topic(name, partitions, replication_factor, manual, overrides, internal, message);
    };
    auto error = co_await on_control_pool(create);
    if (error == ErrorCode::NONE) spdlog::info("created topic {} with {} partitions in the cluster", name, partitions);
    // Either way the topic is the cluster's now: answer once this broker has it.
    if (error == ErrorCode::NONE || error == ErrorCode::TOPIC_ALREADY_EXISTS) co_await reconcile_now();
    co_return error;
  }
  if (manual) {
    for (const auto& replicas : *manual)
      if (replicas.size() != 1 || replicas[0] != config_.node_id) {
        if (message) *message = "The manual partition assignment includes a broker other than this one.";
        co_return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
      }
  }
  if (!topics_.find(name)) co_await partitions_.clear_stale_everywhere(name, 0, partitions);
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
  if (control_plane_) {
    std::string message;
    auto remove = [&]() { return control_plane_->delete_topic(name, &message); };
    auto error = co_await on_control_pool(remove);
    if (error == ErrorCode::NONE) {
      spdlog::info("deleted topic {} in the cluster", name);
      co_await reconcile_now();
    } else if (error != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) {
      spdlog::warn("deleting topic {} failed: {}", name, message);
    }
    co_return error;
  }
  auto info = topics_.find(name);
  if (!info) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  auto error = topics_.remove(name);
  if (error != ErrorCode::NONE) co_return error;
  co_await partitions_.drop_everywhere(name, 0, info->partitions);
  spdlog::info("deleted topic {}", name);
  co_await forget_group_offsets(name);
  co_return ErrorCode::NONE;
}

asio::awaitable<void> Broker::forget_group_offsets(std::string topic) {
  size_t removed = 0;
  for (int s = 0; s < static_cast<int>(coordinators_.size()); ++s) {
    auto forget = [this, s, &topic]() { return coordinators_[s]->forget_topic(topic); };
    removed += co_await on_shard(shards_.at(s), forget);
  }
  if (removed > 0) spdlog::info("removed {} committed offsets of deleted topic {}", removed, topic);
}

asio::awaitable<ErrorCode> Broker::add_partitions(const std::string& name, int32_t total, std::string* message,
                                                  const cluster::controller::Assignment* manual) {
  if (control_plane_) {
    auto add = [&]() { return control_plane_->add_partitions(name, total, manual, message); };
    auto error = co_await on_control_pool(add);
    if (error == ErrorCode::NONE) co_await reconcile_now();
    co_return error;
  }
  if (manual)
    for (const auto& replicas : *manual)
      if (replicas.size() != 1 || replicas[0] != config_.node_id) {
        if (message) *message = "The manual partition assignment includes a broker other than this one.";
        co_return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
      }
  auto before = topics_.find(name);
  if (!before) co_return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (total > before->partitions) co_await partitions_.clear_stale_everywhere(name, before->partitions, total);
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

asio::awaitable<ErrorCode> Broker::set_topic_overrides(const std::string& name,
                                                       const std::map<std::string, std::string>& overrides,
                                                       std::string* message) {
  if (control_plane_) {
    auto set = [&]() { return control_plane_->set_topic_configs(name, overrides, message); };
    auto error = co_await on_control_pool(set);
    if (error == ErrorCode::NONE) co_await reconcile_now();
    co_return error;
  }
  auto error = topics_.set_overrides(name, overrides, message);
  if (error == ErrorCode::NONE) co_await apply_topic_config(name);
  co_return error;
}

asio::awaitable<void> Broker::apply_topic_config(const std::string& name) {
  auto info = topics_.find(name);
  if (!info) co_return;
  co_await partitions_.apply_topic_config(*info);
}

}  // namespace runnel
