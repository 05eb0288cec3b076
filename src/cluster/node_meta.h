#pragma once
// The identity a data directory remembers, as Kafka keeps it in
// meta.properties: which cluster the data belongs to and which node wrote it.
// A broker refuses to start when its configuration or the cluster it joins
// disagrees, so that one node's logs are never served under another node's id
// or mixed into another cluster's partitions.
//
// The file is Kafka's text format (version=1, node.id=, cluster.id=); data dirs
// from runnel versions before it hold only meta/cluster.id, which is adopted.
//
// Thread-safety: free functions, called once at start-up.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "storage/env.h"

namespace runnel::cluster {

struct NodeMeta {
  std::string cluster_id;
  int32_t node_id = 0;
};

// What the data dir holds: meta.properties, else the older meta/cluster.id
// (with node_id unknown: -1), else nothing. Throws std::runtime_error when
// meta.properties exists but cannot be read as Kafka writes it.
std::optional<NodeMeta> load_node_meta(storage::Env& env, const std::filesystem::path& data_dir);

// Writes meta.properties (atomically and durably) and meta/cluster.id.
[[nodiscard]] bool store_node_meta(storage::Env& env, const std::filesystem::path& data_dir, const NodeMeta& meta);

// The text of meta.properties, and its parser (nullopt unless it holds a
// version=1, a cluster.id and a node.id or broker.id); both pure.
std::string format_node_meta(const NodeMeta& meta);
std::optional<NodeMeta> parse_node_meta(std::string_view text);

// The text of <first log dir>/meta/log-dirs (the further log directories
// the broker has formatted, cluster/log_dirs.h): one absolute path per line.
// The parser keeps every non-empty line; both pure.
std::string format_log_dir_list(const std::set<std::string>& dirs);
std::set<std::string> parse_log_dir_list(std::string_view text);

// A fresh cluster id as Kafka makes them: 16 random bytes, URL-safe base64, 22 characters.
std::string random_cluster_id();

// Checks a data dir's identity against the node id it is started with and the
// cluster it joins (empty: a single node, any cluster id). Returns the message
// that explains the refusal, or nullopt when they agree.
std::optional<std::string> identity_mismatch(const NodeMeta& stored, int32_t node_id, const std::string& cluster_id);

}  // namespace runnel::cluster
