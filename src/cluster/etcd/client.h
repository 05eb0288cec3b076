#pragma once
// A blocking client for etcd's v3 JSON gateway: key-value reads and writes,
// transactions and leases. runnel's control plane is etcd (DESIGN.md,
// "Cluster"); this class is the one place that speaks HTTP to it.
//
// Endpoints are tried in turn: a request that cannot connect to the current
// endpoint moves on to the next. A request whose connection broke after it
// was sent is not retried here (it may have been applied); the caller sees
// kUnavailable and decides, which is safe for the fenced transactions the
// cluster code uses.
//
// Thread-safety: every method may be called from any thread; calls on one
// Client are serialised (one connection). Threads that must not wait on each
// other (a watch, the lease keeper, the controller) use Clients of their own.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/etcd/etcd_format.h"
#include "cluster/etcd/status.h"

namespace httplib {
class Client;
}

namespace runnel::cluster::etcd {

struct Endpoint {
  std::string host;
  int port = 2379;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

// "http://host:port", "host:port" or "host" (port 2379); nullopt when unreadable.
std::optional<Endpoint> parse_endpoint(std::string_view text);
// A comma-separated list, as runnel.etcd.endpoints holds it; empty on any bad entry.
std::vector<Endpoint> parse_endpoints(std::string_view text);

struct ClientOptions {
  std::vector<Endpoint> endpoints;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Status range(std::string_view key, std::string_view range_end, RangeResponse& out, int64_t revision = 0);
  // Every key under `prefix`, read at one revision.
  Status range_prefix(std::string_view prefix, RangeResponse& out) { return range(prefix, prefix_end(prefix), out); }
  Status put(std::string_view key, std::string_view value, int64_t lease = 0, PutResponse* out = nullptr);
  Status delete_range(std::string_view key, std::string_view range_end = {}, DeleteResponse* out = nullptr);
  Status txn(const std::vector<Compare>& compares, const std::vector<Op>& success, const std::vector<Op>& failure,
             TxnResponse& out);
  Status lease_grant(int64_t ttl_seconds, LeaseGrantResponse& out);
  // out.ttl <= 0 when the lease has expired or was revoked.
  Status lease_keepalive(int64_t id, LeaseKeepAliveResponse& out);
  Status lease_revoke(int64_t id);
  // Drops the history before `revision` (watches from before it get cancelled).
  Status compact(int64_t revision);

  const ClientOptions& options() const { return options_; }

 private:
  // POSTs `body` to `path`; on success `response` holds the answer's body
  // (which may still be an etcd error: the decoders read it).
  Status post(const char* path, const std::string& body, std::string& response);
  void connect_current();

  const ClientOptions options_;
  std::mutex mu_;
  size_t current_ = 0;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace runnel::cluster::etcd
