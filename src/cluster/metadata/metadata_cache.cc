#include "cluster/metadata/metadata_cache.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace runnel::cluster::metadata {
namespace {

std::optional<int32_t> node_id_of(std::string_view key, std::string_view prefix) {
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  key.remove_prefix(prefix.size());
  int32_t id = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || p != key.data() + key.size() || id < 0) return std::nullopt;
  return id;
}

// partitions/<topic>/<p> -> (topic, p)
std::optional<std::pair<std::string, int32_t>> partition_of(std::string_view key, std::string_view prefix) {
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  key.remove_prefix(prefix.size());
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  int32_t p = 0;
  auto digits = key.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
  if (ec != std::errc() || end != digits.data() + digits.size() || p < 0) return std::nullopt;
  return std::make_pair(std::string(key.substr(0, slash)), p);
}

std::optional<std::string> topic_of(std::string_view key, std::string_view prefix) {
  if (key.substr(0, prefix.size()) != prefix || key.size() == prefix.size()) return std::nullopt;
  auto name = key.substr(prefix.size());
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(name);
}

}  // namespace

void MetadataCache::reset(const etcd::RangeResponse& listing) {
  std::lock_guard lock(mu_);
  brokers_.clear();
  topics_.clear();
  partition_states_.clear();
  acls_.clear();
  acls_revision_ = 0;
  broker_configs_.clear();
  broker_configs_revision_ = 0;
  scram_credentials_.clear();
  scram_credentials_revision_ = 0;
  controller_id_ = -1;
  controller_epoch_ = 0;
  for (const auto& kv : listing.kvs) put_locked(kv);
  revision_ = listing.revision;
  advanced_.notify_all();
}

void MetadataCache::apply(int64_t revision, std::span<const etcd::WatchEvent> events) {
  std::lock_guard lock(mu_);
  for (const auto& e : events) {
    if (e.type == etcd::WatchEvent::Type::kPut)
      put_locked(e.kv);
    else
      delete_locked(e.kv.key);
  }
  revision_ = std::max(revision_, revision);
  advanced_.notify_all();
}

void MetadataCache::put_locked(const etcd::KeyValue& kv) {
  if (auto id = node_id_of(kv.key, keys_.brokers())) {
    auto broker = decode_broker(kv.value);
    if (!broker || broker->node_id != *id) {
      spdlog::warn("ignoring unreadable broker registration {} = {}", kv.key, kv.value);
      return;
    }
    broker->epoch = kv.create_revision;
    auto [it, added] = brokers_.insert_or_assign(*id, *broker);
    if (added) spdlog::info("broker {} joined at {}:{} (epoch {})", *id, broker->host, broker->port, broker->epoch);
  } else if (auto name = topic_of(kv.key, keys_.topics())) {
    auto topic = decode_topic(kv.value);
    if (!topic) {
      spdlog::warn("ignoring unreadable topic record {} = {}", kv.key, kv.value);
      return;
    }
    topics_[*name] = TopicEntry{std::move(*topic), kv.mod_revision, kv.create_revision};
  } else if (auto tp = partition_of(kv.key, keys_.partitions())) {
    auto state = decode_partition_state(kv.value);
    if (!state) {
      spdlog::warn("ignoring unreadable partition state {} = {}", kv.key, kv.value);
      return;
    }
    state->mod_revision = kv.mod_revision;
    partition_states_[*tp] = std::move(*state);
  } else if (kv.key == keys_.acls()) {
    acls_ = kv.value;  // decoded by the broker's authorizer, which logs a bad one
    acls_revision_ = kv.mod_revision;
  } else if (kv.key == keys_.broker_configs()) {
    broker_configs_ = kv.value;  // decoded by the broker, which logs a bad one
    broker_configs_revision_ = kv.mod_revision;
  } else if (kv.key == keys_.scram_credentials()) {
    scram_credentials_ = kv.value;  // decoded by the broker, which logs a bad one
    scram_credentials_revision_ = kv.mod_revision;
  } else if (kv.key == keys_.controller()) {
    auto controller = decode_controller(kv.value);
    if (!controller) {
      spdlog::warn("ignoring unreadable controller record {}", kv.value);
      return;
    }
    if (controller->node_id != controller_id_)
      spdlog::info("broker {} is the controller (epoch {})", controller->node_id, kv.create_revision);
    controller_id_ = controller->node_id;
    controller_epoch_ = kv.create_revision;
  }
}

void MetadataCache::delete_locked(const std::string& key) {
  if (auto id = node_id_of(key, keys_.brokers())) {
    if (brokers_.erase(*id)) spdlog::info("broker {} left the cluster", *id);
  } else if (auto name = topic_of(key, keys_.topics())) {
    topics_.erase(*name);
  } else if (auto tp = partition_of(key, keys_.partitions())) {
    partition_states_.erase(*tp);
  } else if (key == keys_.acls()) {
    acls_.clear();
    acls_revision_ = revision_ + 1;  // any value that differs from the last one seen
  } else if (key == keys_.broker_configs()) {
    broker_configs_.clear();
    broker_configs_revision_ = revision_ + 1;
  } else if (key == keys_.scram_credentials()) {
    scram_credentials_.clear();
    scram_credentials_revision_ = revision_ + 1;
  } else if (key == keys_.controller()) {
    controller_id_ = -1;
    controller_epoch_ = 0;
  }
}

std::pair<int64_t, std::string> MetadataCache::acls() const {
  std::lock_guard lock(mu_);
  return {acls_revision_, acls_};
}

std::pair<int64_t, std::string> MetadataCache::scram_credentials() const {
  std::lock_guard lock(mu_);
  return {scram_credentials_revision_, scram_credentials_};
}

std::pair<int64_t, std::string> MetadataCache::broker_configs() const {
  std::lock_guard lock(mu_);
  return {broker_configs_revision_, broker_configs_};
}

std::vector<BrokerRecord> MetadataCache::brokers() const {
  std::lock_guard lock(mu_);
  std::vector<BrokerRecord> out;
  for (const auto& [_, b] : brokers_) out.push_back(b);
  return out;
}

std::optional<BrokerRecord> MetadataCache::broker(NodeId node_id) const {
  std::lock_guard lock(mu_);
  auto it = brokers_.find(node_id.value());
  if (it == brokers_.end()) return std::nullopt;
  return it->second;
}

int64_t MetadataCache::broker_epoch(NodeId node_id) const {
  std::lock_guard lock(mu_);
  auto it = brokers_.find(node_id.value());
  return it == brokers_.end() ? 0 : it->second.epoch;
}

TopicView MetadataCache::view_locked(const std::string& name) const {
  const auto& entry = topics_.at(name);
  TopicView view{name, entry.record, entry.mod_revision, {}};
  for (int32_t p = 0; p < static_cast<int32_t>(entry.record.replicas.size()); ++p)
    view.partitions.push_back(state_locked(name, entry, p));
  return view;
}

std::vector<TopicView> MetadataCache::topics() const {
  std::lock_guard lock(mu_);
  std::vector<TopicView> out;
  for (const auto& [name, _] : topics_) out.push_back(view_locked(name));
  return out;
}

std::optional<TopicView> MetadataCache::topic(const std::string& name) const {
  std::lock_guard lock(mu_);
  if (!topics_.count(name)) return std::nullopt;
  return view_locked(name);
}

std::optional<PartitionState> MetadataCache::partition(const std::string& topic, int32_t p) const {
  std::lock_guard lock(mu_);
  auto t = topics_.find(topic);
  if (t == topics_.end() || p < 0 || p >= static_cast<int32_t>(t->second.record.replicas.size())) return std::nullopt;
  return state_locked(topic, t->second, p);
}

PartitionState MetadataCache::state_locked(const std::string& topic, const TopicEntry& entry, int32_t p) const {
  auto it = partition_states_.find({topic, p});
  if (it != partition_states_.end()) return it->second;
  // Never written: its first leader got epoch 0 when the topic was made,
  // under the registration it had then, if it has not registered since.
  auto state = PartitionState::initial(entry.record.replicas[p]);
  auto leader = brokers_.find(state.leader);
  if (leader != brokers_.end() && leader->second.epoch < entry.create_revision)
    state.leader_broker_epoch = leader->second.epoch;
  return state;
}

int32_t MetadataCache::controller_id() const {
  std::lock_guard lock(mu_);
  return controller_id_;
}

int64_t MetadataCache::controller_epoch() const {
  std::lock_guard lock(mu_);
  return controller_epoch_;
}

int64_t MetadataCache::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

bool MetadataCache::wait_for_revision(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return advanced_.wait_for(lock, timeout, [&] { return revision_ >= revision; });
}

}  // namespace runnel::cluster::metadata
