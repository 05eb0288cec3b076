#pragma once
// Kafka request and response headers, and which header version each API
// version uses. Request header v1 carries a classic nullable client id; v2
// (flexible requests) adds a tagged-field section after it. Response header v1
// adds tagged fields after the correlation id. ApiVersions responses always use
// header v0 (KIP-511), so a client can parse them before it knows our versions.
// Plain values; stateless functions; thread-safe.
#include <cstdint>
#include <optional>
#include <string>

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::protocol {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;  // absent in header v0

  // header_version: 0, 1 or 2 (see request_header_version()).
  void read(Reader& r, int16_t header_version);
  void write(Writer& w, int16_t header_version) const;
  bool operator==(const RequestHeader&) const = default;
};

struct ResponseHeader {
  int32_t correlation_id = 0;

  // header_version: 0 or 1 (see response_header_version()).
  void read(Reader& r, int16_t header_version);
  void write(Writer& w, int16_t header_version) const;
  bool operator==(const ResponseHeader&) const = default;
};

// Header versions for an API version: 2/1 when the API version is flexible,
// 1/0 otherwise; ApiVersions responses are always 0. Unknown keys get 1/0.
int16_t request_header_version(int16_t api_key, int16_t api_version);
int16_t response_header_version(int16_t api_key, int16_t api_version);

}  // namespace runnel::protocol
