#include "app/rest_records.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cluster/etcd/etcd_format.h"

namespace runnel::app {
namespace {

using json = nlohmann::json;

std::optional<std::string> payload(const json& v, EmbeddedFormat format) {
  if (v.is_null()) return std::nullopt;
  if (format == EmbeddedFormat::Json) return v.dump();
  if (!v.is_string()) throw std::invalid_argument("binary keys and values must be base64 strings");
  auto decoded = cluster::etcd::base64_decode(v.get<std::string>());
  if (!decoded) throw std::invalid_argument("not valid base64: " + v.get<std::string>());
  return *decoded;
}

}  // namespace

EmbeddedFormat embedded_format(std::string_view content_type) {
  if (content_type.find("vnd.kafka.binary.v2") != std::string_view::npos) return EmbeddedFormat::Binary;
  if (content_type.find("vnd.kafka.json.v2") != std::string_view::npos) return EmbeddedFormat::Json;
  if (content_type.find("vnd.kafka.") != std::string_view::npos) return EmbeddedFormat::Unsupported;
  return EmbeddedFormat::Json;  // application/json: JSON values, as the REST Proxy takes them
}

std::vector<RestRecord> parse_produce_body(std::string_view body, EmbeddedFormat format) {
  json doc = json::parse(body);
  if (!doc.is_object() || !doc.contains("records") || !doc["records"].is_array())
    throw std::invalid_argument("the body needs a \"records\" array");
  std::vector<RestRecord> out;
  for (const auto& r : doc["records"]) {
    if (!r.is_object()) throw std::invalid_argument("each record must be an object");
    RestRecord o;
    if (r.contains("key")) o.key = payload(r["key"], format);
    o.value = payload(r.contains("value") ? r["value"] : json(nullptr), format);
    if (r.contains("partition") && !r["partition"].is_null()) {
      if (!r["partition"].is_number_integer()) throw std::invalid_argument("partition must be an integer");
      o.partition = r["partition"].get<int32_t>();
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace runnel::app
