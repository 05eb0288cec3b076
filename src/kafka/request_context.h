#pragma once
// What a handler knows about the request it serves: the broker, the shard it
// runs on, and the request header. Lives for one request; used on one shard.
#include <cstdint>
#include <optional>
#include <string>

namespace runnel {

class Broker;
class Shard;

struct RequestContext {
  Broker& broker;
  Shard& shard;
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  std::string peer;  // remote address, for logs
};

}  // namespace runnel
