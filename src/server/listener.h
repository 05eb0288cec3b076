#pragma once
// One Kafka listener (an entry of `listeners`): accepts connections on shard 0 and hands each new socket
// to the next shard in turn, where the connection then lives (until it moves
// to the shard of the partitions it produces to: server/connection.h; the
// listener hands its socket over). Each accepted
// socket is first admitted by the broker's connection quotas
// (kafka/connection_quotas.h): over max.connections.per.ip it is closed at
// once, over its address's connection_creation_rate after the throttle time; with no slot under max.connections the
// loop waits, holding it, until a connection closes or a limit is raised. It keeps track of the open connections of
// every shard, so that a shutdown can close them all before the broker closes its partitions: a client must see its
// broker go away, never an answer that says its partitions do not exist. Thread-safety: construct and stop from one
// thread; the accept loop runs on shard 0; each shard's connection set is touched only on that shard.
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/broker_config.h"
#include "security/ssl_principal_mapper.h"
#include "security/tls_context.h"

namespace runnel {

class Broker;
class Connection;
class Shard;

class Listener {
 public:
  // Binds at once, so a busy port fails start-up with a clear error. `tls`:
  // the TLS contexts of an SSL or SASL_SSL listener (null otherwise); each
  // new connection takes the current one (a reload replaces it).
  Listener(Broker& broker, ListenerConfig config, std::shared_ptr<const security::TlsContextSource> tls = nullptr);
  ~Listener();
  void start();
  // Stops accepting and closes every open connection; requests in flight
  // finish without being answered. Returns once every shard has done so.
  void stop();
  uint16_t port() const { return port_; }
  const ListenerConfig& config() const { return config_; }

  // A connection from inside this process, served as one that came in on
  // this listener (Metadata answers with this listener's addresses) but
  // already authenticated as `principal`, with `peer` as its client address
  // (ACL host patterns match it). The admin listener's REST proxy and
  // console reach the broker this way, whatever its listeners' security, as
  // the HTTP Basic user they serve. Returns the client's end of a connected
  // socket pair (the caller closes it), or -1 with errno set (EPIPE once the
  // listener is stopping). Any thread.
  int connect_in_process(const std::string& principal, const std::string& peer);

 private:
  asio::awaitable<void> accept_loop();
  // Runs an accepted connection on `shard` (call there) until it ends, or
  // until it moves to another shard (server/connection.h), then runs it
  // there.
  void serve(Shard& shard, const std::shared_ptr<Connection>& connection, const std::string& address);
  // A connection from `address` is over: its quota slot is free.
  void ended(const std::string& address);
  // Waits until the quotas admit a connection from `address`; false when it
  // is refused (the caller closes it, after `*close_after_ms` when that is
  // set: its address is over its connection_creation_rate) or the listener
  // stops.
  asio::awaitable<bool> admit(const std::string& address, int64_t* close_after_ms);
  // Holds a refused socket open for `delay_ms`, then closes it (Kafka's
  // delayed close of a throttled connection: the client does not retry at
  // once).
  static void close_later(Shard& shard, asio::ip::tcp::socket socket, int64_t delay_ms);
  // connections.max.idle.ms: on shard `s` (call there), closes the
  // connections idle for longer, then looks again after a tenth of it
  // (between 100 ms and 10 s; every 10 s when it is -1, which closes
  // nothing), until the listener stops. The same sweep logs
  // requests unanswered for kUnansweredLogNs (Connection::log_unanswered):
  // longer than any client waits for an answer but a JoinGroup's.
  static constexpr int64_t kUnansweredLogNs = 60'000'000'000;
  void sweep_idle(int s);
  void schedule_idle_sweep(int s);
  // While the broker is over max.connections (ConnectionQuotas::
  // reserve_excess_close), closes shard `s`'s least recently used client
  // connections on this listener (call there).
  void close_excess(int s);
  Broker& broker_;
  ListenerConfig config_;
  std::shared_ptr<const security::TlsContextSource> tls_;
  // An SSL listener's ssl.principal.mapping.rules (null on the others).
  std::shared_ptr<const security::SslPrincipalMapper> principal_mapper_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  int next_shard_ = 0;
  std::atomic<unsigned> next_in_process_shard_ = 0;
  std::atomic<bool> stopping_ = false;
  int quota_index_ = -1;  // this listener in the broker's ConnectionQuotas
  int quota_waker_ = -1;
  // Shard 0: the accept loop's wait for a connection slot (cancelled to wake it).
  asio::steady_timer slot_wait_;
  // Per shard: the connections whose run() has not ended.
  std::vector<std::unordered_set<std::shared_ptr<Connection>>> open_;
  // Per shard: the idle sweep's timer, and whether it may still run (set
  // false on that shard by stop(), so a sweep already due ends there).
  std::vector<std::unique_ptr<asio::steady_timer>> idle_timers_;
  std::vector<std::shared_ptr<bool>> sweeping_;
  // Per shard: connections close_excess() closed whose end has not been
  // counted yet; and this listener's handler in ConnectionQuotas.
  std::vector<std::unordered_set<std::shared_ptr<Connection>>> excess_closing_;
  int excess_handler_ = -1;
};

}  // namespace runnel
