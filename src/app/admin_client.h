#pragma once
// A small blocking Kafka client for the command-line tools (`runnel group ...`):
// one TCP connection to one broker, one request at a time, built on the
// generated protocol messages. Not thread-safe; throws AdminError on I/O
// failures and undecodable responses.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/headers.h"
#include "protocol/messages.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::app {

// A Kafka error as the tools print it: "UNKNOWN_TOPIC_OR_PARTITION (3)",
// then ": message" when the broker gave one.
std::string error_text(int16_t code, const std::optional<std::string>& message = std::nullopt);

// Each registered broker's "host:port", by node id, as a Metadata response
// lists them (the address the tools connect to for that broker).
std::map<int32_t, std::string> broker_addresses(const protocol::MetadataResponse& metadata);

struct AdminError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How AdminClients made on this thread reach a broker's HOST:PORT: a
// connected socket, or -1 to dial TCP as usual; it may throw AdminError. The
// admin listener's REST proxy and console install one for each request
// (app/kafka_access.h: this broker in process, as the HTTP user), so the
// command functions they run need not know.
using Dialer = std::function<int(const std::string& address)>;

// Installs `dialer` for this thread until destroyed (scopes nest; an empty
// dialer leaves the enclosing one in place).
class DialerScope {
 public:
  explicit DialerScope(Dialer dialer);
  ~DialerScope();
  DialerScope(const DialerScope&) = delete;
  DialerScope& operator=(const DialerScope&) = delete;

 private:
  Dialer previous_;
  bool installed_ = false;
};

class AdminClient {
 public:
  // bootstrap: HOST:PORT. Connects immediately (through this thread's
  // Dialer, if any).
  explicit AdminClient(const std::string& bootstrap, std::string client_id = "runnel-cli");
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Sends `request` at `version` and returns the decoded response. Fields
  // that view the response's bytes (a Fetch's records) need them kept:
  // pass `keep` to receive them (moved, so the views stay valid).
  template <class Response, class Request>
  Response call(const Request& request, int16_t version, std::vector<uint8_t>* keep = nullptr) {
    std::vector<uint8_t> body = roundtrip(encode(request, version));
    protocol::Reader r{std::span<const uint8_t>(body)};
    Response response;
    try {
      protocol::ResponseHeader rh;
      rh.read(r, protocol::response_header_version(Request::kApiKey, version));
      if (rh.correlation_id != correlation_id_) throw AdminError("correlation id mismatch");
      response.read(r, version);
    } catch (const AdminError&) {
      throw;
    } catch (const std::exception& e) {
      throw AdminError(std::string("cannot decode response to api key ") + std::to_string(Request::kApiKey) + ": " +
                       e.what());
    }
    if (keep) *keep = std::move(body);
    return response;
  }

  // Metadata for these topics (nullopt: every topic), never auto-creating
  // one. v10+ carries topic ids.
  protocol::MetadataResponse metadata(const std::optional<std::vector<std::string>>& topics, int16_t version = 9);

  // ListPartitionReassignments v0: the moves in progress of these
  // partitions ({topic: partitions}; nullopt: every move).
  protocol::ListPartitionReassignmentsResponse list_partition_reassignments(
      const std::optional<std::map<std::string, std::vector<int32_t>>>& partitions = std::nullopt);

  // IncrementalAlterConfigs v1 of one resource (Kafka's ConfigResource type
  // and name): SET each of `set`, then DELETE each of `remove`.
  protocol::IncrementalAlterConfigsResponse incremental_alter_configs(int8_t resource_type,
                                                                      const std::string& resource_name,
                                                                      const std::map<std::string, std::string>& set,
                                                                      const std::vector<std::string>& remove);

  // FindCoordinator for `key` (key_type 0: a group, 1: a transactional id),
  // asked of `bootstrap` once.
  static protocol::FindCoordinatorResponse find_coordinator(const std::string& bootstrap, const std::string& key,
                                                            int8_t key_type,
                                                            const std::string& client_id = "runnel-cli");
  // A connection to the coordinator of `group` (FindCoordinator on
  // `bootstrap`, asked once); throws AdminError with the broker's error.
  // The tools use CoordinatorClient (app/coordinator_client.h),
  // which retries.
  static std::unique_ptr<AdminClient> to_group_coordinator(const std::string& bootstrap, const std::string& group,
                                                           const std::string& client_id = "runnel-cli");

  // Shuts the socket down, from any thread: a call blocked on it (a
  // JoinGroup waiting for the other members) fails at once.
  void shutdown();

  // Sends a request that gets no response (Produce with acks=0).
  template <class Request>
  void send_only(const Request& request, int16_t version) {
    send(encode(request, version));
  }

 private:
  // The request with its header and the next correlation id, unframed.
  template <class Request>
  std::vector<uint8_t> encode(const Request& request, int16_t version) {
    protocol::Writer w;
    protocol::RequestHeader header;
    header.api_key = Request::kApiKey;
    header.api_version = version;
    header.correlation_id = ++correlation_id_;
    header.client_id = client_id_;
    header.write(w, protocol::request_header_version(Request::kApiKey, version));
    request.write(w, version);
    return std::move(w).finish().buffer;
  }
  // Writes the size-prefixed request.
  void send(const std::vector<uint8_t>& request);
  // Writes the size-prefixed request and reads one size-prefixed response.
  std::vector<uint8_t> roundtrip(const std::vector<uint8_t>& request);

  int fd_ = -1;
  int32_t correlation_id_ = 0;
  std::string client_id_;
};

}  // namespace runnel::app
