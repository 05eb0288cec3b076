#pragma once
// The broker's catalogue of topics: name, id, partition count and per-topic
// configuration overrides, persisted in <data dir>/meta/topics.json (written
// to a temporary file, fsynced, then renamed, so a crash leaves the old or the
// new catalogue, never half of one).
//
// Thread-safety: all methods are safe to call from any thread (one mutex; the
// catalogue changes rarely and is read once per request, not per record).
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "base/types.h"
#include "storage/env.h"
#include "storage/log_config.h"

namespace runnel::cluster {

using TopicId = std::array<uint8_t, 16>;

struct TopicInfo {
  std::string name;
  TopicId id{};
  int32_t partitions = 0;
  bool internal = false;
  std::map<std::string, std::string> overrides;  // topic configs set explicitly
  storage::LogConfig log_config;                 // effective: defaults + overrides
  // In a cluster: the node ids holding each partition's replicas, as etcd
  // says; a broker opens only the partitions it holds. Empty on a single
  // node, which holds them all.
  std::vector<std::vector<int32_t>> replicas;

  bool holds(PartitionId partition, NodeId node_id) const {
    if (replicas.empty()) return true;
    const int32_t p = partition.value();
    if (p < 0 || p >= static_cast<int32_t>(replicas.size())) return false;
    for (auto id : replicas[p])
      if (id == node_id.value()) return true;
    return false;
  }
};

// What a request's hot path asks of a topic (TopicTable::shape): a copy of
// these few fields, not of the whole TopicInfo with its configs and
// replica lists, once per topic of every Produce and Fetch.
struct TopicShape {
  TopicId id{};
  int32_t partitions = 0;
  bool internal = false;
};

// Kafka's rules for a topic name: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
ErrorCode validate_topic_name(const std::string& name);

class TopicTable {
 public:
  // The catalogue is written through `env` (which must outlive the table).
  TopicTable(std::filesystem::path meta_dir, storage::LogConfig defaults, storage::Env* env = storage::Env::posix());

  // Reads the catalogue written by an earlier run (none: empty).
  void load();

  std::optional<TopicInfo> find(const std::string& name) const;
  std::optional<TopicShape> shape(const std::string& name) const;
  // The name of the topic with this id (Fetch v13+, Metadata v10+ ask by id);
  // nullopt for an unknown or all-zero id. A scan: topics are few, and ids
  // are looked up once per topic of a request.
  std::optional<std::string> name_of(const TopicId& id) const;
  std::vector<TopicInfo> all() const;

  // The most partitions (over all topics) this broker takes on; a creation
  // that would pass it gets POLICY_VIOLATION. Internal topics are exempt (the
  // broker needs them) but count. A catalogue loaded over the limit is kept.
  void set_max_partitions(int64_t max);
  int64_t max_partitions() const;
  int64_t total_partitions() const;

  // Adds a topic; TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
  // POLICY_VIOLATION or INVALID_CONFIG (with `message`) when it cannot.
  ErrorCode create(const std::string& name, int32_t partitions, const std::map<std::string, std::string>& overrides,
                   bool internal, std::string* message);
  ErrorCode remove(const std::string& name);
  // In a cluster: records (or replaces) a topic exactly as the cluster's
  // metadata describes it, id and replicas included. No capacity check: the
  // cluster already decided. INVALID_CONFIG when its overrides do not parse.
  ErrorCode adopt(TopicInfo topic, std::string* message);
  ErrorCode set_partitions(const std::string& name, int32_t partitions, std::string* message);
  // Takes back a set_partitions() whose partitions could not be opened.
  void restore_partitions(const std::string& name, int32_t partitions);
  // Replaces the topic's overrides (AlterConfigs semantics); validated first.
  ErrorCode set_overrides(const std::string& name, const std::map<std::string, std::string>& overrides,
                          std::string* message);

  // The broker's topic defaults: static config overlaid with the dynamic
  // broker configs (config/dynamic_broker_config.h).
  storage::LogConfig defaults() const;
  // Replaces them (a dynamic broker config changed) and recomputes the
  // effective config of every topic; returns the topics whose config changed
  // (their partitions must be told). Nothing is persisted: topics.json holds
  // only the overrides.
  std::vector<std::string> set_defaults(const storage::LogConfig& defaults);

 private:
  // Writes topics.json atomically; false (logged, errno set) when it could not.
  [[nodiscard]] bool persist_locked() const;
  int64_t total_locked() const;
  // POLICY_VIOLATION (with `message`) when `more` partitions would pass the limit.
  ErrorCode check_capacity_locked(int64_t more, std::string* message) const;
  // Defaults + overrides; internal topics are compacted and never expire.
  storage::LogConfig effective_log_config(const std::map<std::string, std::string>& overrides, bool internal) const;
  std::filesystem::path meta_dir_;
  storage::LogConfig defaults_;  // under mu_
  storage::Env* env_;
  mutable std::mutex mu_;
  std::map<std::string, TopicInfo> topics_;
  int64_t max_partitions_ = INT64_MAX;
};

}  // namespace runnel::cluster
