// The Broker's dynamic broker configs: where they are kept (a file on a
// single node, etcd in a cluster), and how a change reaches the topics that
// inherit the broker's defaults without a restart.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/dynamic_cleaner_config.h"
#include "config/dynamic_throttle_config.h"
#include "config/dynamic_txn_config.h"
#include "kafka/broker.h"

namespace runnel {
namespace {

std::filesystem::path dynamic_configs_path(const BrokerConfig& config) {
  return std::filesystem::path(config.data_dir) / "meta" / "broker-configs.json";
}

}  // namespace

DynamicBrokerConfigs Broker::dynamic_configs() const {
  std::lock_guard lock(dynamic_mu_);
  return dynamic_configs_;
}

bool Broker::is_known_config_key(const std::string& key) const {
  return std::find(known_config_keys_.begin(), known_config_keys_.end(), key) != known_config_keys_.end();
}

std::vector<std::string> Broker::install_dynamic_configs(const DynamicBrokerConfigs& configs) {
  // Under dynamic_mu_, so that two installs (watch thread, handler) land in
  // the order their configs were chosen.
  storage::LogConfig defaults;
  try {
    defaults = effective_topic_defaults(config_.log, configs, config_.node_id);
  } catch (const ConfigError& e) {
    // Validated when written; a value edited by hand in etcd may not be.
    spdlog::error("ignoring the dynamic broker configs, which do not apply: {}", e.what());
    return {};
  }
  dynamic_configs_ = configs;
  auto cleaner = effective_cleaner_settings(static_cleaner_settings(config_), configs, config_.node_id);
  partitions_.reconfigure_cleaner({.enable = true,
                                   .threads = cleaner.threads,
                                   .backoff_ms = cleaner.backoff_ms,
                                   .dedupe_buffer_size = cleaner.dedupe_buffer_size,
                                   .io_max_bytes_per_second = cleaner.io_max_bytes_per_second});
  connection_quotas_->configure(effective_connection_quotas(config_.connection_quota_static, configs, config_.node_id));
  client_quotas_.configure(configs.client_quotas);
  const auto bounds = config_.group_config_bounds();
  std::map<std::string, GroupTimeouts> per_group;
  for (const auto& [group, values] : configs.group_configs) per_group[group] = group_timeouts(values, bounds);
  group_timeouts_.set(group_timeouts({}, bounds), std::move(per_group));
  txn_verification_.store(
      effective_txn_verification(config_.transaction_partition_verification_enable, configs, config_.node_id),
      std::memory_order_relaxed);
  const auto rates = effective_throttle_rates(configs, config_.node_id);
  auto& throttle = partitions_.replication_throttle();
  throttle.set_rate(cluster::replication::ReplicationThrottle::Side::kLeader, rates.leader);
  throttle.set_rate(cluster::replication::ReplicationThrottle::Side::kFollower, rates.follower);
  partitions_.set_log_dir_move_rate(rates.alter_log_dirs);
  return topics_.set_defaults(defaults);
}

asio::awaitable<void> Broker::apply_topic_configs(std::vector<std::string> names) {
  for (const auto& name : names) co_await apply_topic_config(name);
}

void Broker::load_dynamic_configs() {
  auto path = dynamic_configs_path(config_);
  if (!env_->exists(path)) return;
  std::vector<uint8_t> bytes;
  if (!env_->read_file(path, bytes))
    throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  DynamicBrokerConfigs configs;
  try {
    configs =
        decode_dynamic_broker_configs(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path.string() + " is corrupt: " + e.what());
  }
  std::lock_guard lock(dynamic_mu_);
  (void)install_dynamic_configs(configs);  // before topics_.load(): nothing to apply yet
}

void Broker::refresh_dynamic_configs() {
  std::vector<std::string> changed;
  {
    std::lock_guard lock(dynamic_mu_);
    auto [revision, text] = control_plane_->cache().broker_configs();
    if (revision == dynamic_revision_) return;
    dynamic_revision_ = revision;
    DynamicBrokerConfigs configs;
    if (!text.empty()) {
      try {
        configs = decode_dynamic_broker_configs(text);
      } catch (const std::invalid_argument& e) {
        spdlog::error("ignoring the cluster's dynamic broker configs, which do not decode: {}", e.what());
        return;
      }
    }
    if (configs == dynamic_configs_) return;
    changed = install_dynamic_configs(configs);
    spdlog::info("dynamic broker configs updated from the cluster ({} topics affected)", changed.size());
  }
  if (changed.empty() || !shards_started_) return;
  asio::co_spawn(shards_.at(0).executor(), apply_topic_configs(std::move(changed)), asio::detached);
}

asio::awaitable<ErrorCode> Broker::update_dynamic_configs(
    std::function<DynamicBrokerConfigs(const DynamicBrokerConfigs&)> change, std::string* message) {
  if (control_plane_) {
    auto edit = [&](const std::string& current) {
      DynamicBrokerConfigs configs = current.empty() ? DynamicBrokerConfigs{} : decode_dynamic_broker_configs(current);
      return encode_dynamic_broker_configs(change(configs));
    };
    ErrorCode error = ErrorCode::NONE;
    auto write = [&]() -> ErrorCode {
      try {
        return control_plane_->update_broker_configs(edit, message);
      } catch (const ConfigError& e) {
        *message = e.what();
        return ErrorCode::INVALID_REQUEST;  // as Kafka 4 (handlers/broker_configs.cc)
      }
    };
    error = co_await asio::co_spawn(
        control_pool_.get_executor(), [&write]() -> asio::awaitable<ErrorCode> { co_return write(); },
        asio::use_awaitable);
    if (error != ErrorCode::NONE) co_return error;
    // The watch may have installed it already; either way it is applied
    // here before the answer, so that the client's next request sees it.
    std::vector<std::string> changed;
    {
      std::lock_guard lock(dynamic_mu_);
      auto [revision, text] = control_plane_->cache().broker_configs();
      if (revision != dynamic_revision_) {
        dynamic_revision_ = revision;
        try {
          changed =
              install_dynamic_configs(text.empty() ? DynamicBrokerConfigs{} : decode_dynamic_broker_configs(text));
        } catch (const std::invalid_argument& e) {
          spdlog::error("the dynamic broker configs just written do not decode: {}", e.what());
        }
      }
    }
    // Applied to every topic: the watch may have installed them without
    // having pushed them to the partitions yet.
    for (const auto& t : topics_.all()) changed.push_back(t.name);
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    co_await apply_topic_configs(std::move(changed));
    co_return ErrorCode::NONE;
  }
  std::vector<std::string> changed;
  {
    std::lock_guard lock(dynamic_mu_);
    DynamicBrokerConfigs next;
    try {
      next = change(dynamic_configs_);
    } catch (const ConfigError& e) {
      *message = e.what();
      co_return ErrorCode::INVALID_REQUEST;
    }
    const std::string text = encode_dynamic_broker_configs(next);
    auto path = dynamic_configs_path(config_);
    if (!env_->write_file_atomic(
            path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()))) {
      *message = "cannot write " + path.string() + ": " + std::strerror(errno);
      co_return ErrorCode::KAFKA_STORAGE_ERROR;
    }
    changed = install_dynamic_configs(next);
  }
  co_await apply_topic_configs(std::move(changed));
  co_return ErrorCode::NONE;
}

}  // namespace runnel
