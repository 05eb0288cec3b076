#pragma once
// Holds one etcd lease alive: grants it, then renews it every third of its
// TTL on a thread of its own. The lease is what makes a broker's registration
// and a controller's claim disappear when the broker dies or is cut off.
//
// The keeper reports the lease lost (once) when etcd says it is gone, or when
// no renewal has succeeded for a whole TTL: by then etcd may have expired it,
// so the owner must act as if it had (stop acting as controller, re-register).
//
// Before that, valid_until() says how long the lease is sure to be alive: the
// send time of the last renewal that succeeded plus three quarters of the TTL
// (etcd counts its TTL from its receipt, later). A broker that stops serving
// as leader at that moment has stopped before etcd can expire the lease and a
// new leader can be chosen, so no two brokers serve one partition at once
// (tests/chaos, seed 20261202: a leader cut off from etcd and the other
// brokers served a reader for a second after its successor had taken over).
//
// Thread-safety: start() and stop() from the owning thread; `on_lost` runs on
// the keeper's thread; id() and lost() from any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/etcd/client.h"

namespace runnel::cluster::etcd {

class LeaseKeeper {
 public:
  // `valid_until_ns` (optional; must outlive the keeper) mirrors valid_until_ns().
  LeaseKeeper(ClientOptions options, int64_t ttl_seconds, std::function<void()> on_lost,
              std::atomic<int64_t>* valid_until_ns = nullptr);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Grants the lease and starts renewing it.
  Status start();
  // Instead of start(): takes over lease `id`, which an earlier keeper
  // declared lost because etcd could not be reached for a whole TTL, if etcd
  // still holds it (a lease outlives etcd's own restart, which renews its
  // TTL, and so do the keys attached to it), and starts renewing it. An
  // etcd error with etcd_code() kGrpcNotFound when etcd no longer has it
  // (then start() grants a new one); unavailable while etcd cannot be reached.
  Status resume(int64_t id);
  // Stops renewing; with `revoke`, also revokes the lease so that its keys go
  // at once (a clean shutdown) instead of after the TTL.
  void stop(bool revoke);

  int64_t id() const { return id_.load(); }
  // steady_clock time (ns since its epoch) until which the lease is surely
  // alive; 0 before the grant and once lost.
  int64_t valid_until_ns() const { return valid_until_ns_.load(); }
  int64_t ttl_seconds() const { return ttl_seconds_; }
  bool lost() const { return lost_.load(); }
  // Lost, and etcd itself said so (the lease had expired or was revoked), as
  // opposed to etcd staying unreachable for a whole TTL.
  bool expired() const { return expired_.load(); }

 private:
  void run(std::chrono::steady_clock::time_point granted);
  // Holds lease `id`, renewed at `sent`, from now on.
  void keep(int64_t id, std::chrono::steady_clock::time_point sent);

  Client client_;
  const int64_t ttl_seconds_;
  std::function<void()> on_lost_;
  std::atomic<int64_t> id_{0};
  std::atomic<int64_t> valid_until_ns_{0};
  std::atomic<int64_t>* mirror_ = nullptr;
  void set_valid_until(int64_t ns);
  // Marks the lease surely alive until `sent` (of a successful grant or
  // renewal) plus three quarters of the TTL.
  void renewed(std::chrono::steady_clock::time_point sent);
  std::atomic<bool> lost_{false};
  std::atomic<bool> expired_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace runnel::cluster::etcd
