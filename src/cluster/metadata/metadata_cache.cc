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

}  // namespace

void MetadataCache::reset(const etcd::RangeResponse& listing) {
  std::lock_guard lock(mu_);
  brokers_.clear();
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
  } else if (key == keys_.controller()) {
    controller_id_ = -1;
    controller_epoch_ = 0;
  }
}

std::vector<BrokerRecord> MetadataCache::brokers() const {
  std::lock_guard lock(mu_);
  std::vector<BrokerRecord> out;
  for (const auto& [_, b] : brokers_) out.push_back(b);
  return out;
}

std::optional<BrokerRecord> MetadataCache::broker(int32_t node_id) const {
  std::lock_guard lock(mu_);
  auto it = brokers_.find(node_id);
  if (it == brokers_.end()) return std::nullopt;
  return it->second;
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
