#pragma once
// The body of a REST Proxy v2 produce request, read: {"records": [{"key",
// "value", "partition"}]} with keys and values in the embedded format the
// Content-Type names (json: any JSON value, stored as its text; binary:
// base64 strings). Bytes from the network: throws std::invalid_argument or
// nlohmann::json::exception on a body that is not that.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::app {

enum class EmbeddedFormat { Binary, Json, Unsupported };

// From a Content-Type: vnd.kafka.binary.v2 / vnd.kafka.json.v2; other
// vnd.kafka formats (avro, protobuf, jsonschema) are Unsupported; anything
// else (application/json) is Json.
EmbeddedFormat embedded_format(std::string_view content_type);

struct RestRecord {
  std::optional<int32_t> partition;
  std::optional<std::string> key;
  std::optional<std::string> value;
};

std::vector<RestRecord> parse_produce_body(std::string_view body, EmbeddedFormat format);

}  // namespace runnel::app
