#pragma once
// The admin HTTP listener (runnel.admin.listen, default 127.0.0.1:9644, as
// Redpanda's admin API; https://HOST:PORT serves it over TLS with the
// broker's ssl.keystore.* certificate: each handshake takes the certificate,
// chain and key of the TlsContextSource's current context, so a keystore the
// TlsReloader reloads reaches new connections without a restart; the protocol
// range and cipher suites are read at start): /metrics in Prometheus' text format, /v1/health
// (live and ready, with the reason when not ready), and / (a page that lists
// what is served; the console will live there).
//
// cpp-httplib (Debian's libcpp-httplib-dev, already used for etcd) serves it
// on its own small thread pool, off the shards: a scrape costs the shards one
// posted task each, and a slow HTTP client costs them nothing.
//
// Thread-safety: start() and stop() from the thread that runs the broker.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "config/broker_config.h"

namespace httplib {
class Server;
}

namespace runnel {

class Broker;
namespace security {
class TlsContextSource;
}

// The HTTP Basic user of the request this thread is serving
// (runnel.admin.authentication=basic; set before routing, so every route
// handler sees its own request's), or nullopt (no authentication).
std::optional<std::string> admin_request_user();

class AdminServer {
 public:
  explicit AdminServer(Broker& broker);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds host:port (port 0: any free port) and starts serving, over TLS
  // with `tls`'s keystore (and ssl.enabled.protocols, ssl.cipher.suites)
  // when not null: a server-side source (security/tls_context.h), whose
  // current certificate every handshake uses. Returns false, with the
  // reason in *error, when it cannot bind or the keystore cannot be used.
  // `more_routes` adds handlers of layers above (the REST proxy) before it
  // serves.
  bool start(const std::string& host, uint16_t port, std::shared_ptr<security::TlsContextSource> tls,
             std::string* error, const std::function<void(httplib::Server&)>& more_routes = nullptr);
  void stop();
  uint16_t port() const { return port_; }

 private:
  Broker& broker_;
  std::shared_ptr<security::TlsContextSource> tls_;  // kept while the server may call back
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  // Set by thread_ once listen_after_bind() has returned (stop() waits for
  // the server to run, or for this).
  std::atomic<bool> listen_returned_{false};
  uint16_t port_ = 0;
};

}  // namespace runnel
