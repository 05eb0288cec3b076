#include "cluster/metadata/records.h"

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

}  // namespace

std::string encode_broker(const BrokerRecord& broker) {
  json doc = {{"node_id", broker.node_id}, {"host", broker.host}, {"port", broker.port}};
  if (!broker.rack.empty()) doc["rack"] = broker.rack;
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

}  // namespace runnel::cluster::metadata
