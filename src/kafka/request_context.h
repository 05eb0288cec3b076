#pragma once
// What a handler knows about the request it serves: the broker, the shard it
// runs on, and the request header. Lives for one request; used on one shard.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace runnel::security {
struct Session;
}

namespace runnel {

class Broker;
class Shard;
struct FetchPartitionCache;
class FetchSessions;

struct RequestContext {
  Broker& broker;
  Shard& shard;
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  std::string peer;  // remote address, for logs
  // A handler calls this once the request's effects are ordered with respect
  // to the connection's later requests (Produce: every batch appended), so
  // the connection may read and start the next request while this one waits
  // (Produce acks=all: for its fdatasync). Responses still go out in request
  // order. A handler that never calls it is finished before the next request
  // starts. May be empty; call at most once.
  std::function<void()> ordered;
  // The connection's security session (listener, principal, SASL state);
  // null outside a client connection (tests, internal callers).
  security::Session* session = nullptr;
  // The listener the request came in on: Metadata and FindCoordinator answer
  // with the endpoints of that listener. Empty: the inter-broker listener.
  std::string_view listener;
  // Set by Produce: the shard that owns every partition the request
  // appended to, when one shard owns them all. A connection whose produces
  // keep going to one other shard moves there (server/connection.h).
  Shard* partitions_shard = nullptr;
  // The connection's cache of the partitions its last Fetch named
  // (fetch_partition_cache.h); null outside a client connection.
  FetchPartitionCache* fetch_partitions = nullptr;
  // The connection's fetch sessions (KIP-227, fetch_session.h); null
  // outside a client connection.
  FetchSessions* fetch_sessions = nullptr;
  // The request frame's size (Produce's byte-rate quota counts it).
  int32_t request_bytes = 0;
  // Set by a handler whose client went over a quota (client quotas,
  // kafka/client_quota_manager.h): the connection reads no further request
  // for this long once this one is done (Kafka mutes the channel).
  int32_t throttle_ms = 0;
};

}  // namespace runnel
