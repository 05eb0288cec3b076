#include "cluster/etcd/lease_keeper.h"

#include "base/thread_name.h"

namespace runnel::cluster::etcd {

namespace {
// Renewals must not wait longer than the lease has left.
ClientOptions with_short_timeouts(ClientOptions o, int64_t ttl_seconds) {
  auto third = std::chrono::milliseconds(ttl_seconds * 1000 / 3);
  if (o.request_timeout > third) o.request_timeout = third;
  if (o.connect_timeout > third) o.connect_timeout = third;
  return o;
}
}  // namespace

LeaseKeeper::LeaseKeeper(ClientOptions options, int64_t ttl_seconds, std::function<void()> on_lost,
                         std::atomic<int64_t>* valid_until_ns)
    : client_(with_short_timeouts(std::move(options), ttl_seconds)),
      ttl_seconds_(ttl_seconds),
      on_lost_(std::move(on_lost)),
      mirror_(valid_until_ns) {}

void LeaseKeeper::set_valid_until(int64_t ns) {
  valid_until_ns_ = ns;
  if (mirror_) *mirror_ = ns;
}

LeaseKeeper::~LeaseKeeper() { stop(false); }

void LeaseKeeper::renewed(std::chrono::steady_clock::time_point sent) {
  auto until = sent + std::chrono::milliseconds(ttl_seconds_ * 1000 * 3 / 4);
  set_valid_until(std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count());
}

Status LeaseKeeper::start() {
  auto sent = std::chrono::steady_clock::now();
  LeaseGrantResponse grant;
  if (Status s = client_.lease_grant(ttl_seconds_, grant); !s.is_ok()) return s;
  keep(grant.id, sent);
  return Status::ok();
}

Status LeaseKeeper::resume(int64_t id) {
  auto sent = std::chrono::steady_clock::now();
  LeaseKeepAliveResponse answer;
  if (Status s = client_.lease_keepalive(id, answer); !s.is_ok()) return s;
  if (answer.ttl <= 0) return Status::etcd_error(kGrpcNotFound, "lease " + std::to_string(id) + " has expired");
  keep(id, sent);
  return Status::ok();
}

void LeaseKeeper::keep(int64_t id, std::chrono::steady_clock::time_point sent) {
  id_ = id;
  lost_ = false;
  expired_ = false;
  renewed(sent);
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, sent] {
    name_this_thread("etcd-lease");
    run(sent);
  });
}

void LeaseKeeper::stop(bool revoke) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (revoke && id_ != 0 && !lost_) {
    // Best effort: if etcd is unreachable the lease simply expires.
    (void)client_.lease_revoke(id_);
  }
}

void LeaseKeeper::run(std::chrono::steady_clock::time_point granted) {
  using clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(ttl_seconds_ * 1000 / 3);
  const auto ttl = std::chrono::seconds(ttl_seconds_);
  auto last_renewed = granted;
  bool retrying = false;
  while (true) {
    {
      // After a failed renewal, try again soon: the lease counts as surely
      // alive for only three quarters of its TTL (valid_until_ns).
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, retrying ? interval / 4 : interval, [this] { return stopping_; })) return;
    }
    // etcd renews on receipt, after this moment: counting the TTL from the
    // send means the keeper declares the lease lost no later than etcd
    // expires it.
    auto sent = clock::now();
    LeaseKeepAliveResponse answer;
    Status s = client_.lease_keepalive(id_, answer);
    bool gone = s.is_ok() && answer.ttl <= 0;
    retrying = !s.is_ok();
    if (s.is_ok() && !gone) {
      last_renewed = sent;
      renewed(sent);
      continue;
    }
    if (gone || clock::now() - last_renewed >= ttl) {
      set_valid_until(0);
      expired_ = gone;
      lost_ = true;
      if (on_lost_) on_lost_();
      return;
    }
  }
}

}  // namespace runnel::cluster::etcd
