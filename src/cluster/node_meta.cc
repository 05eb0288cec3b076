#include "cluster/node_meta.h"

#include <charconv>
#include <random>
#include <stdexcept>

namespace runnel::cluster {
namespace {

constexpr const char* kFile = "meta.properties";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::optional<int32_t> parse_id(std::string_view s) {
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::string format_node_meta(const NodeMeta& meta) {
  return "#\n# written by runnel: the identity of this data directory\nversion=1\nnode.id=" +
         std::to_string(meta.node_id) + "\ncluster.id=" + meta.cluster_id + "\n";
}

std::optional<NodeMeta> parse_node_meta(std::string_view text) {
  NodeMeta meta;
  bool version = false, node = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (key == "version") {
      if (value != "1" && value != "0") return std::nullopt;
      version = true;
    } else if (key == "node.id" || key == "broker.id") {
      auto id = parse_id(value);
      if (!id) return std::nullopt;
      meta.node_id = *id;
      node = true;
    } else if (key == "cluster.id") {
      meta.cluster_id = std::string(value);
    }
  }
  if (!version || !node || meta.cluster_id.empty()) return std::nullopt;
  return meta;
}

std::optional<NodeMeta> load_node_meta(storage::Env& env, const std::filesystem::path& data_dir) {
  std::vector<uint8_t> bytes;
  if (env.read_file(data_dir / kFile, bytes)) {
    auto meta = parse_node_meta(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!meta)
      throw std::runtime_error((data_dir / kFile).string() +
                               " is not a meta.properties runnel or Kafka can read (it needs version=1, node.id "
                               "and cluster.id)");
    return meta;
  }
  // Data dirs written before meta.properties existed: the cluster id only.
  if (env.read_file(data_dir / "meta" / "cluster.id", bytes)) {
    auto id = trim(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    while (!id.empty() && id.back() == '\n') id = trim(id.substr(0, id.size() - 1));
    if (!id.empty()) return NodeMeta{std::string(id), -1};
  }
  return std::nullopt;
}

bool store_node_meta(storage::Env& env, const std::filesystem::path& data_dir, const NodeMeta& meta) {
  auto text = format_node_meta(meta);
  auto legacy = meta.cluster_id + "\n";
  return env.create_dirs_durably(data_dir / "meta") &&
         env.write_file_atomic(data_dir / kFile, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}) &&
         env.write_file_atomic(data_dir / "meta" / "cluster.id",
                               {reinterpret_cast<const uint8_t*>(legacy.data()), legacy.size()});
}

std::string format_log_dir_list(const std::set<std::string>& dirs) {
  std::string text;
  for (const auto& d : dirs) text += d + "\n";
  return text;
}

std::set<std::string> parse_log_dir_list(std::string_view text) {
  std::set<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (!line.empty()) out.emplace(line);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

std::string random_cluster_id() {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::mt19937_64 rng{(uint64_t(rd()) << 32) ^ rd()};
  std::string id;
  for (int i = 0; i < 22; ++i) id += alphabet[rng() % 64];
  return id;
}

std::optional<std::string> identity_mismatch(const NodeMeta& stored, int32_t node_id, const std::string& cluster_id) {
  if (stored.node_id >= 0 && stored.node_id != node_id)
    return "this data directory belongs to node " + std::to_string(stored.node_id) +
           " (meta.properties), not to node " + std::to_string(node_id) + ": start it with --node-id " +
           std::to_string(stored.node_id) + " or give node " + std::to_string(node_id) + " a data directory of its own";
  if (!cluster_id.empty() && stored.cluster_id != cluster_id)
    return "this data directory belongs to cluster " + stored.cluster_id +
           " (meta.properties), but etcd holds cluster " + cluster_id +
           ": its logs cannot join another cluster; give this node an empty data directory";
  return std::nullopt;
}

}  // namespace runnel::cluster
