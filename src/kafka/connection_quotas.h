#pragma once
// The broker's connection counts and limits, as Kafka's ConnectionQuotas
// (SocketServer.scala): connections per client address, per listener and in
// all. A listener's accept loop asks admit() for each accepted socket:
//  - no slot (the listener's max.connections, or the broker-wide one, is
//    reached): the loop waits, holding the socket, until release() or
//    configure() frees one (Kafka blocks its acceptor; it does not close).
//    The inter-broker listener, when there are others, is exempt from the
//    broker-wide max (KIP-402) but not from its own listener max;
//  - the address is over its connection_creation_rate (a client quota on
//    its ip entity, or the default ip entity's): the socket is held for the
//    throttle time and then closed, and it does not count against the
//    rate (Kafka's ConnectionThrottledException);
//  - the address already has max.connections.per.ip (or its override): the
//    socket is closed at once (Kafka logs and closes).
// Before that, record_connection() counts the accepted socket against the
// connection creation rates (KIP-612: max.connection.creation.rate, broker-
// wide except for a protected inter-broker listener, and the listener's
// own) and says how long the loop waits before going on, as Kafka's
// acceptor does.
// Lowering a listener's limit does not close connections already open;
// while the broker-wide count is over max.connections (a lower value, or
// the exempt inter-broker listener), the other listeners close their least
// recently used connections, one at a time (reserve_excess_close()).
// Connections made inside the process (the admin listener's REST proxy) are
// not counted.
//
// Thread-safety: every method may be called from any thread. The counts are
// guarded by one mutex, taken once per accepted and per closed connection
// (never per request); the rejection counters are atomics.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/connection_quota_config.h"
#include "base/quota_rate.h"

namespace runnel {

class ConnectionQuotas {
 public:
  // `listeners`: every listener's name, in order (admit() and release()
  // take its index); `inter_broker`: the inter-broker listener's name.
  ConnectionQuotas(std::vector<std::string> listeners, std::string inter_broker);

  // Installs new limits (static, or a dynamic change) and wakes blocked
  // accept loops.
  void configure(ConnectionQuotaSettings settings);
  ConnectionQuotaSettings settings() const;

  enum class Admission { kAdmitted, kNoSlot, kPerIpLimit, kIpThrottled };
  // Counts a connection from `address` (its text form, e.g. "127.0.0.1") on
  // listener `listener` if admitted. kNoSlot: nothing counted, wait and
  // try again; kPerIpLimit: nothing counted, close the socket; `*limit` is
  // then the address's limit; kIpThrottled: nothing counted, close the
  // socket after `*throttle_ms`. `now_ms`: the monotonic clock in ms (-1:
  // read it).
  Admission admit(int listener, const std::string& address, int32_t* limit = nullptr, int64_t* throttle_ms = nullptr,
                  int64_t now_ms = -1);
  // The admitted connection has closed.
  void release(int listener, const std::string& address);
  // Counts a socket accepted on `listener` at `now_ms` (monotonic) against
  // the broker-wide and the listener's connection creation rate; returns
  // how long (ms) to wait before admitting it: the longer of the two
  // delays, at most one quota window (0 within both rates).
  int64_t record_connection(int listener, int64_t now_ms);

  // KIP-402's other half, as Kafka's processors do: while the broker-wide
  // count is over max.connections (the inter-broker listener, exempt, took
  // it there), the other listeners close their least recently used
  // connections. reserve_excess_close() says whether `listener` should close
  // one more (counting those reserved and not yet released);
  // excess_close_released() ends a reservation, when that connection has
  // been released (or none was found to close).
  bool reserve_excess_close(int listener);
  void excess_close_released();
  // `on_excess` is called (under the lock: it must only post) when an
  // admission, or a lower max.connections, takes the broker-wide count over
  // max.connections. Returns an id for remove_excess_handler().
  int add_excess_handler(std::function<void()> on_excess) {
    return add_callback(excess_handlers_, std::move(on_excess));
  }
  void remove_excess_handler(int id) { remove_callback(excess_handlers_, id); }
  // Connections closed that way, by listener (for /metrics).
  void add_excess_closed(int listener) { stats_[listener]->excess_closed.fetch_add(1, std::memory_order_relaxed); }
  uint64_t excess_closed(int listener) const { return stats_[listener]->excess_closed.load(std::memory_order_relaxed); }

  // `wake` is called (under the lock: it must only post) whenever a slot may
  // have freed while some accept loop waits. Returns an id for
  // remove_waker(); after remove_waker() returns, `wake` is not called again.
  int add_waker(std::function<void()> wake) { return add_callback(wakers_, std::move(wake)); }
  void remove_waker(int id) { remove_callback(wakers_, id); }
  // An accept loop starts / stops waiting for a slot (so that release() only
  // wakes when someone waits).
  void note_waiting(int delta) { waiting_.fetch_add(delta, std::memory_order_acq_rel); }

  int listener_index(const std::string& name) const;
  const std::vector<std::string>& listeners() const { return listeners_; }
  // Counters for /metrics, by listener index.
  uint64_t rejected_per_ip(int listener) const {
    return stats_[listener]->rejected_per_ip.load(std::memory_order_relaxed);
  }
  uint64_t blocked_ns(int listener) const { return stats_[listener]->blocked_ns.load(std::memory_order_relaxed); }
  // Connections closed for connections.max.idle.ms (server/listener.h).
  void add_idle_closed(int listener, uint64_t n) {
    stats_[listener]->idle_closed.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t idle_closed(int listener) const { return stats_[listener]->idle_closed.load(std::memory_order_relaxed); }
  // Sockets closed for their address's connection_creation_rate.
  uint64_t ip_throttled(int listener) const { return stats_[listener]->ip_throttled.load(std::memory_order_relaxed); }
  // Accepted sockets that waited for the connection creation rate.
  uint64_t rate_throttled(int listener) const {
    return stats_[listener]->rate_throttled.load(std::memory_order_relaxed);
  }
  void add_blocked_ns(int listener, uint64_t ns) {
    stats_[listener]->blocked_ns.fetch_add(ns, std::memory_order_relaxed);
  }
  // Counted connections: from one address, on one listener, in all.
  int32_t count_of(const std::string& address) const;
  int32_t listener_count(int listener) const;
  int32_t total() const;

 private:
  // Addresses whose connection rates are kept before the quiet ones are
  // dropped (Kafka expires a quota sensor after an hour without use).
  static constexpr size_t kMaxTrackedAddresses = 4096;
  struct Stats {
    std::atomic<uint64_t> rejected_per_ip{0};
    std::atomic<uint64_t> blocked_ns{0};
    std::atomic<uint64_t> rate_throttled{0};
    std::atomic<uint64_t> idle_closed{0};
    std::atomic<uint64_t> ip_throttled{0};
    std::atomic<uint64_t> excess_closed{0};
  };
  using Callbacks = std::vector<std::pair<int, std::function<void()>>>;
  int add_callback(Callbacks& list, std::function<void()> callback);
  void remove_callback(Callbacks& list, int id);
  // The broker-wide count, less the closes already reserved, is over
  // max.connections; if so, tells the excess handlers.
  bool over_max_locked() const;
  void notify_excess_locked();
  bool slot_available_locked(int listener) const;
  bool protected_listener(int listener) const;
  void wake_locked();

  const std::vector<std::string> listeners_;
  const std::string inter_broker_;
  std::vector<std::unique_ptr<Stats>> stats_;
  std::atomic<int> waiting_{0};
  mutable std::mutex mu_;  // guards everything below
  ConnectionQuotaSettings settings_;
  // max.connections.per.ip.overrides with hosts resolved to addresses.
  std::unordered_map<std::string, int32_t> overrides_;
  std::unordered_map<std::string, int32_t> per_address_;
  std::vector<int32_t> per_listener_;
  int32_t total_ = 0;
  ConnectionCreationRate broker_rate_;
  std::vector<ConnectionCreationRate> listener_rates_;
  // connection_creation_rate quotas with ip entity names resolved to
  // addresses, and each address's rate while it has such a quota.
  std::unordered_map<std::string, int32_t> ip_rate_limits_;
  std::unordered_map<std::string, ConnectionCreationRate> ip_rates_;
  Callbacks wakers_;
  Callbacks excess_handlers_;
  int32_t excess_closing_ = 0;  // reserved by reserve_excess_close(), not yet released
  int next_callback_id_ = 0;
};

}  // namespace runnel
