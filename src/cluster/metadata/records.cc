#include "cluster/metadata/records.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace runnel::cluster::metadata {
namespace {

using nlohmann::json;

std::optional<json> parse_object(std::string_view text) {
  auto doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

std::optional<int64_t> integer(const json& doc, const char* key, int64_t min, int64_t max) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) return std::nullopt;
  int64_t v = it->is_number_unsigned() ? (it->get<uint64_t>() > uint64_t(INT64_MAX) ? -1 : int64_t(it->get<uint64_t>()))
                                       : it->get<int64_t>();
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<std::vector<int32_t>> node_list(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_array()) return std::nullopt;
  std::vector<int32_t> out;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return std::nullopt;
    auto id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX) return std::nullopt;
    out.push_back(static_cast<int32_t>(id));
  }
  return out;
}

std::string hex(const std::array<uint8_t, 16>& id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : id) out += digits[b >> 4], out += digits[b & 15];
  return out;
}

// A partition index written as a JSON object key: decimal, below `count`.
std::optional<int32_t> parse_partition_index(const std::string& key, size_t count) {
  if (key.empty() || key.size() > 9 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  int64_t value = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value >= static_cast<int64_t>(count)) return std::nullopt;
  return static_cast<int32_t>(value);
}

std::optional<std::array<uint8_t, 16>> unhex(const std::string& text) {
  if (text.size() != 32) return std::nullopt;
  std::array<uint8_t, 16> id{};
  for (size_t i = 0; i < 32; ++i) {
    char c = text[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    id[i / 2] = static_cast<uint8_t>(id[i / 2] << 4 | v);
  }
  return id;
}

}  // namespace

std::string encode_topic(const TopicRecord& topic) {
  json doc = {{"id", hex(topic.id)}, {"replicas", topic.replicas}, {"configs", topic.configs}};
  if (topic.internal) doc["internal"] = true;
  if (!topic.reassignments.empty()) {
    json moves = json::object();
    for (const auto& [p, r] : topic.reassignments)
      moves[std::to_string(p)] = {{"adding", r.adding}, {"removing", r.removing}};
    doc["reassignments"] = std::move(moves);
  }
  return doc.dump();
}

std::optional<TopicRecord> decode_topic(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  TopicRecord t;
  auto id = doc->find("id");
  if (id == doc->end() || !id->is_string()) return std::nullopt;
  auto bytes = unhex(id->get<std::string>());
  if (!bytes) return std::nullopt;
  t.id = *bytes;
  auto replicas = doc->find("replicas");
  if (replicas == doc->end() || !replicas->is_array() || replicas->empty()) return std::nullopt;
  for (const auto& p : *replicas) {
    json one = {{"r", p}};
    auto nodes = node_list(one, "r");
    if (!nodes || nodes->empty()) return std::nullopt;
    t.replicas.push_back(std::move(*nodes));
  }
  if (auto configs = doc->find("configs"); configs != doc->end()) {
    if (!configs->is_object()) return std::nullopt;
    for (const auto& [k, v] : configs->items()) {
      if (!v.is_string()) return std::nullopt;
      t.configs[k] = v.get<std::string>();
    }
  }
  if (auto internal = doc->find("internal"); internal != doc->end()) {
    if (!internal->is_boolean()) return std::nullopt;
    t.internal = internal->get<bool>();
  }
  if (auto moves = doc->find("reassignments"); moves != doc->end()) {
    if (!moves->is_object()) return std::nullopt;
    for (const auto& [key, value] : moves->items()) {
      auto p = parse_partition_index(key, t.replicas.size());
      if (!p || !value.is_object()) return std::nullopt;
      auto adding = node_list(value, "adding");
      auto removing = node_list(value, "removing");
      if (!adding || !removing) return std::nullopt;
      // Both name replicas of the partition, never the same one twice.
      const auto& replicas = t.replicas[static_cast<size_t>(*p)];
      auto listed = [&](int32_t node) { return std::find(replicas.begin(), replicas.end(), node) != replicas.end(); };
      for (int32_t node : *adding)
        if (!listed(node) || std::find(removing->begin(), removing->end(), node) != removing->end())
          return std::nullopt;
      for (int32_t node : *removing)
        if (!listed(node)) return std::nullopt;
      t.reassignments[*p] = {std::move(*adding), std::move(*removing)};
    }
  }
  return t;
}

PartitionState PartitionState::initial(const std::vector<int32_t>& replicas) {
  PartitionState s;
  s.leader = replicas.empty() ? -1 : replicas[0];
  s.isr = replicas;
  return s;
}

std::string encode_partition_state(const PartitionState& state) {
  json doc{{"leader", state.leader},
           {"leader_epoch", state.leader_epoch},
           {"isr", state.isr},
           {"partition_epoch", state.partition_epoch}};
  if (state.leader_broker_epoch != 0) doc["leader_broker_epoch"] = state.leader_broker_epoch;
  return doc.dump();
}

std::optional<PartitionState> decode_partition_state(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  auto leader = integer(*doc, "leader", -1, INT32_MAX);
  auto epoch = integer(*doc, "leader_epoch", 0, INT32_MAX);
  auto partition_epoch = integer(*doc, "partition_epoch", 0, INT32_MAX);
  auto isr = node_list(*doc, "isr");
  if (!leader || !epoch || !partition_epoch || !isr) return std::nullopt;
  // Absent in states written before it existed: unknown (0).
  std::optional<int64_t> broker_epoch = 0;
  if (doc->contains("leader_broker_epoch")) broker_epoch = integer(*doc, "leader_broker_epoch", 0, INT64_MAX);
  if (!broker_epoch) return std::nullopt;
  PartitionState s;
  s.leader_broker_epoch = *broker_epoch;
  s.leader = static_cast<int32_t>(*leader);
  s.leader_epoch = static_cast<int32_t>(*epoch);
  s.partition_epoch = static_cast<int32_t>(*partition_epoch);
  s.isr = std::move(*isr);
  return s;
}

std::string encode_broker(const BrokerRecord& broker) {
  json doc = {{"node_id", broker.node_id}, {"host", broker.host}, {"port", broker.port}};
  if (!broker.rack.empty()) doc["rack"] = broker.rack;
  if (!broker.listeners.empty()) {
    json listeners = json::array();
    for (const auto& l : broker.listeners) listeners.push_back({{"name", l.name}, {"host", l.host}, {"port", l.port}});
    doc["listeners"] = std::move(listeners);
  }
  if (broker.admin)
    doc["admin"] = {{"scheme", broker.admin->scheme}, {"host", broker.admin->host}, {"port", broker.admin->port}};
  if (broker.in_controlled_shutdown) doc["in_controlled_shutdown"] = true;
  return doc.dump();
}

std::optional<BrokerRecord> decode_broker(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  auto id = integer(*doc, "node_id", 0, INT32_MAX);
  auto port = integer(*doc, "port", 1, 65535);
  auto host = doc->find("host");
  if (!id || !port || host == doc->end() || !host->is_string() || host->get<std::string>().empty()) return std::nullopt;
  BrokerRecord b;
  b.node_id = static_cast<int32_t>(*id);
  b.port = static_cast<int32_t>(*port);
  b.host = host->get<std::string>();
  if (auto rack = doc->find("rack"); rack != doc->end()) {
    if (rack->is_string())
      b.rack = rack->get<std::string>();
    else if (!rack->is_null())
      return std::nullopt;
  }
  if (auto listeners = doc->find("listeners"); listeners != doc->end()) {
    if (!listeners->is_array()) return std::nullopt;
    for (const auto& l : *listeners) {
      if (!l.is_object()) return std::nullopt;
      auto name = l.find("name");
      auto lhost = l.find("host");
      auto lport = integer(l, "port", 1, 65535);
      if (name == l.end() || !name->is_string() || lhost == l.end() || !lhost->is_string() || !lport)
        return std::nullopt;
      b.listeners.push_back({name->get<std::string>(), lhost->get<std::string>(), static_cast<int32_t>(*lport)});
    }
  }
  if (auto admin = doc->find("admin"); admin != doc->end() && !admin->is_null()) {
    if (!admin->is_object()) return std::nullopt;
    auto scheme = admin->find("scheme");
    auto ahost = admin->find("host");
    auto aport = integer(*admin, "port", 1, 65535);
    if (scheme == admin->end() || !scheme->is_string() || ahost == admin->end() || !ahost->is_string() || !aport)
      return std::nullopt;
    std::string s = scheme->get<std::string>();
    if (s != "http" && s != "https") return std::nullopt;
    b.admin = BrokerRecord::AdminEndpoint{s, ahost->get<std::string>(), static_cast<int32_t>(*aport)};
  }
  if (auto stopping = doc->find("in_controlled_shutdown"); stopping != doc->end()) {
    if (!stopping->is_boolean()) return std::nullopt;
    b.in_controlled_shutdown = stopping->get<bool>();
  }
  return b;
}

std::string encode_controller(const ControllerRecord& controller) {
  return json{{"node_id", controller.node_id}}.dump();
}

std::optional<ControllerRecord> decode_controller(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  auto id = integer(*doc, "node_id", 0, INT32_MAX);
  if (!id) return std::nullopt;
  return ControllerRecord{static_cast<int32_t>(*id)};
}

std::string encode_producer_ids(int64_t next_block) { return json{{"next_block", next_block}}.dump(); }

std::optional<int64_t> decode_producer_ids(std::string_view text) {
  auto doc = parse_object(text);
  if (!doc) return std::nullopt;
  return integer(*doc, "next_block", 0, INT64_MAX);
}

}  // namespace runnel::cluster::metadata
