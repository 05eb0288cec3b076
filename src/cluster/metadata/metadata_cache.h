#pragma once
// What this broker knows of the cluster, mirrored from etcd: the live brokers
// and the controller. Fed by one watch on the cluster's key prefix (a full
// listing first, then the events after it, in revision order), read by the
// handlers that answer Metadata, DescribeCluster and FindCoordinator.
//
// Values that do not decode are logged and ignored: a broken record written by
// hand must not stop the broker from tracking the rest.
//
// Thread-safety: every method is safe from any thread (one mutex; readers copy
// out what they need, the watch thread is the only writer).
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/types.h"
#include "cluster/etcd/etcd_format.h"
#include "cluster/metadata/records.h"

namespace runnel::cluster::metadata {

// The key that names the cluster under `root` ("/runnel/"): created once by
// the first broker (or `runnel user set --etcd` run before it), read by every
// later one (KEYS.md).
inline std::string cluster_id_key(const std::string& root) { return root + "cluster-id"; }

// The key layout under one cluster's prefix ("/runnel/<cluster-id>/").
struct Keys {
  std::string prefix;
  std::string broker(int32_t node_id) const { return prefix + "brokers/" + std::to_string(node_id); }
  std::string brokers() const { return prefix + "brokers/"; }
  std::string controller() const { return prefix + "controller"; }
  std::string topics() const { return prefix + "topics/"; }
  std::string topic(const std::string& name) const { return topics() + name; }
  std::string partitions() const { return prefix + "partitions/"; }
  std::string partitions_of(const std::string& topic) const { return partitions() + topic + "/"; }
  std::string partition(const std::string& topic, int32_t p) const { return partitions_of(topic) + std::to_string(p); }
  std::string acls() const { return prefix + "acls"; }
  std::string broker_configs() const { return prefix + "broker-configs"; }
  std::string scram_credentials() const { return prefix + "scram-credentials"; }
};

// A topic with the state of each of its partitions (implicit initial states
// filled in), as one consistent copy.
struct TopicView {
  std::string name;
  TopicRecord record;
  int64_t mod_revision = 0;  // of topics/<name>: fences AddPartitions and config changes
  std::vector<PartitionState> partitions;
};

class MetadataCache {
 public:
  explicit MetadataCache(Keys keys) : keys_(std::move(keys)) {}

  // Replaces everything with a listing of the prefix.
  void reset(const etcd::RangeResponse& listing);
  // Applies the events of one watch message.
  void apply(int64_t revision, std::span<const etcd::WatchEvent> events);

  // Live brokers, by node id.
  std::vector<BrokerRecord> brokers() const;
  std::optional<BrokerRecord> broker(NodeId node_id) const;
  // A live broker's epoch (its registration's create revision), 0 if it is
  // not live: broker() without copying the record (asked per partition).
  int64_t broker_epoch(NodeId node_id) const;
  // The controller's node id and the create revision of its claim (the
  // controller epoch that fences its writes); -1 and 0 when there is none.
  int32_t controller_id() const;
  int64_t controller_epoch() const;
  // Topics the cluster has, by name.
  std::vector<TopicView> topics() const;
  std::optional<TopicView> topic(const std::string& name) const;
  // The partition's state; nullopt for an unknown topic or partition.
  std::optional<PartitionState> partition(const std::string& topic, int32_t p) const;

  // The cluster's ACLs as stored (security/acl.h's encode_acls) and the
  // key's mod revision; {0, ""} while there is none.
  std::pair<int64_t, std::string> acls() const;
  // The dynamic broker configs as stored (config/dynamic_broker_config.h's
  // document) and the key's mod revision; {0, ""} while there are none.
  std::pair<int64_t, std::string> broker_configs() const;
  // The SASL users' SCRAM credentials as stored (security/credential_store.h's
  // encode_credential_document) and the key's mod revision; {0, ""} while
  // there are none.
  std::pair<int64_t, std::string> scram_credentials() const;

  // The etcd revision the cache reflects.
  int64_t revision() const;
  // Blocks until the cache has reached `revision` or `timeout` passed.
  bool wait_for_revision(int64_t revision, std::chrono::milliseconds timeout) const;

  const Keys& keys() const { return keys_; }

 private:
  void put_locked(const etcd::KeyValue& kv);
  void delete_locked(const std::string& key);

  const Keys keys_;
  mutable std::mutex mu_;
  mutable std::condition_variable advanced_;
  TopicView view_locked(const std::string& name) const;

  struct TopicEntry {
    TopicRecord record;
    int64_t mod_revision = 0;
    int64_t create_revision = 0;
  };
  // A partition's state: its own key's, or the implicit initial one.
  PartitionState state_locked(const std::string& topic, const TopicEntry& entry, int32_t p) const;
  std::map<int32_t, BrokerRecord> brokers_;
  std::map<std::string, TopicEntry> topics_;
  std::map<std::pair<std::string, int32_t>, PartitionState> partition_states_;
  std::string acls_;
  int64_t acls_revision_ = 0;
  std::string broker_configs_;
  int64_t broker_configs_revision_ = 0;
  std::string scram_credentials_;
  int64_t scram_credentials_revision_ = 0;
  int32_t controller_id_ = -1;
  int64_t controller_epoch_ = 0;
  int64_t revision_ = 0;
};

}  // namespace runnel::cluster::metadata
