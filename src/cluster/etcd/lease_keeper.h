#pragma once
// Holds one etcd lease alive: grants it, then renews it every third of its
// TTL on a thread of its own. The lease is what makes a broker's registration
// and a controller's claim disappear when the broker dies or is cut off.
//
// The keeper reports the lease lost (once) when etcd says it is gone, or when
// no renewal has succeeded for a whole TTL: by then etcd may have expired it,
// so the owner must act as if it had (stop acting as controller, re-register).
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
  LeaseKeeper(ClientOptions options, int64_t ttl_seconds, std::function<void()> on_lost);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Grants the lease and starts renewing it.
  Status start();
  // Stops renewing; with `revoke`, also revokes the lease so that its keys go
  // at once (a clean shutdown) instead of after the TTL.
  void stop(bool revoke);

  int64_t id() const { return id_.load(); }
  int64_t ttl_seconds() const { return ttl_seconds_; }
  bool lost() const { return lost_.load(); }
  // Lost, and etcd itself said so (the lease had expired or was revoked), as
  // opposed to etcd staying unreachable for a whole TTL.
  bool expired() const { return expired_.load(); }

 private:
  void run(std::chrono::steady_clock::time_point granted);

  Client client_;
  const int64_t ttl_seconds_;
  std::function<void()> on_lost_;
  std::atomic<int64_t> id_{0};
  std::atomic<bool> lost_{false};
  std::atomic<bool> expired_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace runnel::cluster::etcd
