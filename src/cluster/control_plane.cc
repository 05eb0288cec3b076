#include "cluster/control_plane.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>

#include "base/thread_name.h"
#include "cluster/controller/broker_probe.h"
#include "cluster/controller/leader_election.h"
#include "config/parse.h"

namespace runnel::cluster {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

bool ControlPlane::Throttle::allow() {
  auto now = Clock::now();
  if (now < next_) return false;
  next_ = now + std::chrono::seconds(5);
  return true;
}

ControlPlane::ControlPlane(ControlPlaneOptions options)
    : options_(std::move(options)),
      client_(options_.client),
      admin_client_(options_.client),
      relist_client_(options_.client),
      probe_client_(options_.client) {}

ControlPlane::~ControlPlane() { stop(); }

etcd::Status ControlPlane::join_cluster(const std::string& proposed, std::string& cluster_id) {
  const std::string key = metadata::cluster_id_key(options_.root);
  auto deadline = Clock::now() + options_.startup_timeout;
  Throttle throttle;
  while (true) {
    etcd::TxnResponse txn;
    auto status = client_.txn({etcd::Compare::create_revision(key, 0)}, {etcd::Op::put(key, proposed)},
                              {etcd::Op::range(key)}, txn);
    if (status.is_ok()) {
      if (txn.succeeded) {
        cluster_id = proposed;
        founded_ = true;
        spdlog::info("created cluster {} in etcd", cluster_id);
      } else if (!txn.responses.empty() && !txn.responses[0].kvs.empty()) {
        cluster_id = txn.responses[0].kvs[0].value;
      } else {
        return etcd::Status::malformed("etcd answered the cluster-id transaction without the key");
      }
      cluster_id_ = cluster_id;
      keys_.prefix = options_.root + cluster_id_ + "/";
      // Empty until start() lists etcd. The listeners start in between
      // (the registration carries their ports), and a request that arrives
      // then must find no metadata, not no cache: a FindCoordinator there
      // crashed a restarting broker under the chaos run.
      cache_ = std::make_unique<metadata::MetadataCache>(keys_);
      return etcd::Status::ok();
    }
    if (status.code() != etcd::Status::Code::kUnavailable || Clock::now() >= deadline) return status;
    if (throttle.allow()) spdlog::warn("waiting for etcd to read the cluster id: {}", status.to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

int64_t ControlPlane::relist() {
  // Called on the watch thread after a compaction, and once before the watch
  // starts: a full listing replaces the cache, and the watch resumes after it.
  while (true) {
    etcd::RangeResponse listing;
    auto status = relist_client_.range_prefix(keys_.prefix, listing);
    if (status.is_ok()) {
      cache_->reset(listing);
      wake();
      if (options_.on_metadata_change) options_.on_metadata_change();
      return listing.revision + 1;
    }
    spdlog::warn("listing the cluster's metadata in etcd failed, retrying: {}", status.to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
  }
}

etcd::Status ControlPlane::start(metadata::BrokerRecord self) {
  self_ = std::move(self);
  etcd::RangeResponse listing;
  if (auto status = client_.range_prefix(keys_.prefix, listing); !status.is_ok()) return status;
  cache_->reset(listing);
  etcd::Watch::Options watch_options{options_.client, keys_.prefix, etcd::prefix_end(keys_.prefix),
                                     listing.revision + 1};
  watch_ = std::make_unique<etcd::Watch>(
      watch_options,
      [this](int64_t revision, std::span<const etcd::WatchEvent> events) {
        cache_->apply(revision, events);
        wake();
        if (options_.on_metadata_change) options_.on_metadata_change();
      },
      [this](int64_t compact_revision) {
        spdlog::warn("etcd compacted the history this broker's watch needed (revision {}); re-listing",
                     compact_revision);
        return relist();
      },
      [this](const etcd::Status& status) {
        if (watch_warnings_.allow()) spdlog::warn("the watch on etcd broke, reconnecting: {}", status.to_string());
      });
  watch_->start();

  auto deadline = Clock::now() + options_.startup_timeout;
  while (!reconcile()) {
    if (Clock::now() >= deadline) {
      watch_->stop();
      if (lease_) lease_->stop(/*revoke=*/true);
      return etcd::Status::unavailable(
          "could not register node " + std::to_string(self_.node_id) +
          " in etcd in time: etcd is unreachable, or another live broker holds this node id");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  supervisor_ = std::thread([this] {
    name_this_thread("ctl-supervisor");
    supervise();
  });
  prober_ = std::thread([this] {
    name_this_thread("ctl-prober");
    probe_brokers();
  });
  return etcd::Status::ok();
}

void ControlPlane::announce_controlled_shutdown() {
  auto marked = self_;
  marked.in_controlled_shutdown = true;
  const auto key = keys_.broker(self_.node_id);
  etcd::TxnResponse txn;
  // Only over this registration (the one under our lease): never over a
  // newer one of the same node.
  auto status = client_.txn({etcd::Compare::lease(key, lease_->id())},
                            {etcd::Op::put(key, metadata::encode_broker(marked), lease_->id())}, {}, txn);
  if (!status.is_ok() || !txn.succeeded) return;  // the next pass retries
  // Only the flag changes: the prober reads self_.node_id meanwhile.
  self_.in_controlled_shutdown = true;
  spdlog::info("node {}: controlled shutdown: asking the controller to move its leaderships", self_.node_id);
}

ControlPlane::HandOver ControlPlane::hand_over_state() const {
  HandOver out;
  const int32_t self = options_.node_id;
  auto me = cache_->broker(NodeId(self));
  out.announced = me && me->in_controlled_shutdown;
  const auto eligible = controller::eligible_leaders(live_brokers(), stopping_brokers());
  for (const auto& view : cache_->topics()) {
    for (const auto& state : view.partitions) {
      const bool in_isr = std::find(state.isr.begin(), state.isr.end(), self) != state.isr.end();
      if (state.leader == self) {
        bool successor = std::any_of(state.isr.begin(), state.isr.end(),
                                     [&](int32_t id) { return id != self && eligible.count(id); });
        ++(successor ? out.pending : out.kept);
      } else if (in_isr && eligible.count(state.leader)) {
        ++out.pending;
      }
    }
  }
  return out;
}

void ControlPlane::controlled_shutdown() {
  if (!options_.controlled_shutdown || !registered_ || fenced()) return;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::seconds(options_.session_ttl_seconds);
  const auto before = hand_over_state();
  shutdown_requested_ = true;
  wake();
  HandOver now = before;
  while (!(now.announced && now.pending == 0)) {
    if (std::chrono::steady_clock::now() >= deadline || fenced()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    now = hand_over_state();
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (now.announced && now.pending == 0)
    spdlog::info(
        "node {}: controlled shutdown complete in {} ms: {} leaderships and ISR places handed over, {} partitions "
        "stay led here until it leaves (no other live replica in sync)",
        options_.node_id, ms.count(), before.pending, now.kept);
  else
    spdlog::warn(
        "node {}: controlled shutdown incomplete after {} ms ({}): {} leaderships or ISR places not handed over; "
        "the lease's end moves them",
        options_.node_id, ms.count(), fenced() ? "fenced" : "no controller acted in time", now.pending);
}

void ControlPlane::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  if (prober_.joinable()) prober_.join();
  is_controller_ = false;
  if (watch_) watch_->stop();
  // Leaving: the controller moves this broker's partitions as soon as the
  // registration is gone; from now on clients are sent to the new leaders.
  fenced_ = true;
  if (lease_) lease_->stop(/*revoke=*/options_.controlled_shutdown);
  if (registered_)
    spdlog::info("left the cluster (node {}): {}", self_.node_id,
                 options_.controlled_shutdown ? "registration revoked" : "registration left to expire");
  registered_ = false;
}

void ControlPlane::probe_brokers() {
  constexpr auto kInterval = std::chrono::milliseconds(200);
  constexpr int kStrikes = 2;
  std::map<int32_t, int> strikes;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, kInterval, [this] { return stopping_; })) return;
    }
    // The controller watches every broker; the others watch the controller
    // (whose death would otherwise hold every election for a whole TTL).
    const int32_t controller = cache_->controller_id();
    for (const auto& b : cache_->brokers()) {
      if (b.node_id == self_.node_id || (!is_controller_ && b.node_id != controller)) continue;
      if (controller::probe_listener(b.host, b.port, kInterval) != controller::ProbeResult::Refused) {
        strikes.erase(b.node_id);
        continue;
      }
      if (++strikes[b.node_id] < kStrikes) continue;
      strikes.erase(b.node_id);
      etcd::RangeResponse held;
      if (!probe_client_.range(keys_.broker(b.node_id), {}, held).is_ok() || held.kvs.empty()) continue;
      int64_t lease = held.kvs[0].lease;
      if (lease == 0) continue;
      if (probe_client_.lease_revoke(lease).is_ok()) {
        spdlog::warn("node {} refuses connections at {}:{}: its process is gone; revoked its registration", b.node_id,
                     b.host, b.port);
        wake();
      }
    }
  }
}

void ControlPlane::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void ControlPlane::supervise() {
  while (true) {
    // After a failed pass (etcd out of reach: no lease, no registration) the
    // next comes sooner, so that a broker cut off from etcd registers again
    // within about one connect timeout of the network healing rather than
    // up to a connect timeout plus a whole interval (chaos runs measured up
    // to 1.7 s from a heal to the registration with a 1 s interval).
    const bool reconciled = reconcile();
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, reconciled ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(200),
                   [this] { return woken_ || stopping_; });
    if (stopping_) return;
    woken_ = false;
  }
}

bool ControlPlane::reconcile() {
  if (!renew_lease()) return false;
  // A registration deleted by hand (or by an operator's tool) is put back.
  if (registered_ && !cache_->broker(NodeId(self_.node_id)) && cache_->revision() > 0) {
    etcd::RangeResponse current;
    if (client_.range(keys_.broker(self_.node_id), {}, current).is_ok() && current.kvs.empty()) registered_ = false;
  }
  if (!registered_ && !register_self()) return false;
  if (shutdown_requested_ && !self_.in_controlled_shutdown) announce_controlled_shutdown();
  unfence_when_caught_up();
  campaign();
  if (is_controller_) elect_leaders();
  return true;
}

bool ControlPlane::renew_lease() {
  if (lease_ && !lease_->lost()) return true;
  if (lease_) {
    // Lost: etcd expired or revoked it, or no renewal got through for a
    // whole TTL. Either way etcd may have let it go and the controller moved
    // this broker's partitions and groups, so it stops acting as their leader
    // until it has registered again. (tests/chaos found the alternative,
    // serving on while only etcd was out of reach: a broker cut off from etcd
    // alone kept answering as leader and coordinator, consumers fetched past
    // its end and reset to offset 0, and committed offsets went backwards.)
    fenced_ = true;
    spdlog::warn(
        "the lease of node {} in etcd was lost{}: serving nothing as leader, no longer controller, "
        "registering again",
        self_.node_id, lease_->expired() ? "" : " (no renewal for a whole TTL)");
    // Unless etcd said it expired, etcd may still hold it: it keeps leases
    // across its own restart. With every broker cut off from a restarting
    // etcd, each would otherwise wait for its old registration to expire
    // and the controller would then move every partition.
    resumable_lease_ = lease_->expired() ? 0 : lease_->id();
    lease_->stop(/*revoke=*/false);
    lease_.reset();
  }
  is_controller_ = false;
  registered_ = false;
  auto lease = std::make_unique<etcd::LeaseKeeper>(
      options_.client, options_.session_ttl_seconds,
      [this] {
        fenced_ = true;  // at once, not at the supervisor's next pass
        is_controller_ = false;
        registered_ = false;
        wake();
      },
      &lease_valid_until_ns_);
  if (resumable_lease_ != 0) {
    // Still held: nobody saw this broker leave, and its registration (and
    // controller claim) are still there; it stays fenced until its view has
    // caught up with etcd (unfence_when_caught_up), as after a new lease.
    auto resumed = lease->resume(resumable_lease_);
    if (resumed.code() == etcd::Status::Code::kUnavailable) {
      if (lease_warnings_.allow()) spdlog::warn("cannot renew the lease in etcd: {}", resumed.to_string());
      return false;
    }
    if (resumed.is_ok()) {
      spdlog::info("etcd still holds lease {} of node {}: keeping it", resumable_lease_, self_.node_id);
      resumable_lease_ = 0;
      lease_ = std::move(lease);
      return true;
    }
    resumable_lease_ = 0;  // gone (or refused): a new one
  }
  if (auto status = lease->start(); !status.is_ok()) {
    if (lease_warnings_.allow()) spdlog::warn("cannot get a lease from etcd: {}", status.to_string());
    return false;
  }
  lease_ = std::move(lease);
  return true;
}

bool ControlPlane::register_self() {
  const auto key = keys_.broker(self_.node_id);
  etcd::TxnResponse txn;
  auto status =
      client_.txn({etcd::Compare::create_revision(key, 0)},
                  {etcd::Op::put(key, metadata::encode_broker(self_), lease_->id())}, {etcd::Op::range(key)}, txn);
  if (!status.is_ok()) {
    if (register_warnings_.allow())
      spdlog::warn("registering node {} in etcd failed: {}", self_.node_id, status.to_string());
    return false;
  }
  if (!txn.succeeded) {
    const auto* held = !txn.responses.empty() && !txn.responses[0].kvs.empty() ? &txn.responses[0].kvs[0] : nullptr;
    // Our own put whose answer was lost on the way back counts as done.
    if (!held || held->lease != lease_->id()) {
      if (register_warnings_.allow())
        spdlog::warn(
            "node id {} is still registered by {} (lease {}): an earlier run of this node whose lease "
            "has not expired yet, or another broker started with the same node id; waiting",
            self_.node_id, held ? held->value : "?", held ? held->lease : 0);
      return false;
    }
  }
  registered_ = true;
  registered_revision_ = txn.revision;
  spdlog::info("registered node {} in cluster {} as {}:{}{}", self_.node_id, cluster_id_, self_.host, self_.port,
               self_.rack.empty() ? "" : " (rack " + self_.rack + ")");
  return true;
}

void ControlPlane::unfence_when_caught_up() {
  if (!fenced_ || !registered_) return;
  // (tests/chaos, seed 20261201: a coordinator unfenced at once after a
  // partition from etcd healed acknowledged commits for a group that had
  // moved, and the group's offsets went backwards.)
  if (!cache_->wait_for_revision(registered_revision_, std::chrono::seconds(2))) return;  // next round
  fenced_ = false;
  spdlog::info("node {}: metadata caught up with etcd (revision {}); serving again", self_.node_id,
               registered_revision_);
}

void ControlPlane::campaign() {
  const auto key = keys_.controller();
  if (is_controller_) {
    // Deposed when the claim the cache shows is no longer ours (deleted by
    // hand, or replaced after our lease expired while we did not notice).
    if (cache_->controller_id() >= 0 && cache_->controller_id() != self_.node_id) {
      is_controller_ = false;
      spdlog::warn("node {} is no longer the controller", self_.node_id);
    }
    return;
  }
  // A claim of this node's may be held by a lease it took over (renew_lease):
  // the transaction below finds it ours.
  if (cache_->controller_id() >= 0 && cache_->controller_id() != self_.node_id) return;
  etcd::TxnResponse txn;
  auto status = client_.txn({etcd::Compare::create_revision(key, 0)},
                            {etcd::Op::put(key, metadata::encode_controller({self_.node_id}), lease_->id())},
                            {etcd::Op::range(key)}, txn);
  if (!status.is_ok()) return;  // retried on the next pass
  bool won = txn.succeeded;
  claim_revision_ = txn.revision;  // a key created by this txn has its revision as create revision
  if (!won && !txn.responses.empty() && !txn.responses[0].kvs.empty()) {
    won = txn.responses[0].kvs[0].lease == lease_->id();
    claim_revision_ = txn.responses[0].kvs[0].create_revision;
  }
  if (won) {
    is_controller_ = true;
    spdlog::info("node {} won the controller election (etcd revision {})", self_.node_id, txn.revision);
  }
}

void ControlPlane::elect_leaders() {
  // Act only on a view at least as new as etcd is now: a controller that has
  // not yet seen a broker's registration would take its partitions offline.
  etcd::RangeResponse now;
  if (!client_.range(keys_.controller(), {}, now).is_ok()) return;
  if (!cache_->wait_for_revision(now.revision, std::chrono::seconds(2))) return;
  const std::set<int32_t> live = live_brokers();
  const std::set<int32_t> stopping = stopping_brokers();
  const std::set<int32_t> eligible = controller::eligible_leaders(live, stopping);
  const auto checked_at = std::chrono::steady_clock::now();
  const bool prefer = options_.preferred_leader_interval.count() > 0 &&
                      checked_at - last_preferred_check_ >= options_.preferred_leader_interval;
  if (prefer) last_preferred_check_ = checked_at;
  for (const auto& view : cache_->topics()) {
    for (int32_t p = 0; p < static_cast<int32_t>(view.partitions.size()); ++p) {
      const auto& current = view.partitions[p];
      // A leader that registered again since its epoch began leads on only in
      // a new one (renew_leader_epoch); the rest of the rules apply after.
      std::optional<metadata::PartitionState> next;
      if (current.leader >= 0 && live.count(current.leader))
        next = controller::renew_leader_epoch(current, broker_epoch(current.leader));
      if (!next)
        next = controller::elect_leader(current, view.record.replicas[p], live, stopping,
                                        unclean_election_enabled(view.record));
      if (!next && prefer) next = controller::prefer_leader(current, view.record.replicas[p], eligible);
      if (!next) continue;
      next = stamped(current, std::move(*next));
      const auto key = keys_.partition(view.name, p);
      etcd::TxnResponse txn;
      auto status = client_.txn({etcd::Compare::mod_revision(key, current.mod_revision),
                                 etcd::Compare::create_revision(keys_.controller(), claim_revision_)},
                                {etcd::Op::put(key, metadata::encode_partition_state(*next))}, {}, txn);
      if (!status.is_ok()) return;   // etcd unreachable: the next pass retries
      if (!txn.succeeded) continue;  // newer state (or a newer controller) exists: the watch brings it
      if (next->leader != current.leader)
        spdlog::info("partition {}-{}: leader {} -> {} (leader epoch {}, ISR {})", view.name, p, current.leader,
                     next->leader, next->leader_epoch, fmt::join(next->isr, ","));
      else if (next->leader_epoch != current.leader_epoch)
        spdlog::info("partition {}-{}: leader {} registered again: leader epoch {} -> {}", view.name, p, next->leader,
                     current.leader_epoch, next->leader_epoch);
    }
  }
  complete_reassignments(live, stopping);
}

}  // namespace runnel::cluster

namespace runnel::cluster {
namespace {

ErrorCode unreachable(const etcd::Status& status, std::string* message) {
  if (message) *message = "the cluster's metadata store (etcd) cannot be reached: " + status.to_string();
  return ErrorCode::REQUEST_TIMED_OUT;
}

std::array<uint8_t, 16> random_topic_id() {
  std::random_device rd;
  std::array<uint8_t, 16> id{};
  for (auto& b : id) b = static_cast<uint8_t>(rd());
  id[6] = (id[6] & 0x0f) | 0x40;  // a version-4 UUID, as Kafka's Uuid.randomUuid()
  id[8] = (id[8] & 0x3f) | 0x80;
  return id;
}

}  // namespace

ErrorCode ControlPlane::alter_isr(const std::string& topic, PartitionId partition_id, LeaderEpoch epoch,
                                  const std::vector<NodeId>& isr_ids) {
  // The etcd record keeps plain integers.
  const int32_t partition = partition_id.value();
  const int32_t leader_epoch = epoch.value();
  const std::vector<int32_t> isr = node_id_values(isr_ids);
  auto state = cache_->partition(topic, partition);
  if (!state || state->leader != options_.node_id || state->leader_epoch != leader_epoch)
    return ErrorCode::FENCED_LEADER_EPOCH;
  if (state->isr == isr) return ErrorCode::NONE;
  // As KRaft's controller (KIP-841): a broker that is not registered (dead,
  // or fenced by an expired lease) or is in controlled shutdown may not join
  // an ISR.
  for (int32_t node : isr) {
    bool was_in = std::find(state->isr.begin(), state->isr.end(), node) != state->isr.end();
    if (was_in) continue;
    auto broker = cache_->broker(NodeId(node));
    if (!broker || broker->in_controlled_shutdown) return ErrorCode::INELIGIBLE_REPLICA;
  }
  auto next = *state;
  next.isr = isr;
  ++next.partition_epoch;
  if (auto error = write_partition_state(topic, partition, *state, next); error != ErrorCode::NONE) return error;
  spdlog::info("partition {}-{}: ISR {} -> {} (leader {}, epoch {})", topic, partition, fmt::join(state->isr, ","),
               fmt::join(isr, ","), options_.node_id, leader_epoch);
  return ErrorCode::NONE;
}

ErrorCode ControlPlane::write_partition_state(const std::string& topic, int32_t partition,
                                              const metadata::PartitionState& current,
                                              const metadata::PartitionState& next) {
  const auto key = keys_.partition(topic, partition);
  etcd::TxnResponse txn;
  // admin_client_: this runs on the broker's control thread, like topic admin.
  auto status =
      admin_client_.txn({etcd::Compare::mod_revision(key, current.mod_revision)},
                        {etcd::Op::put(key, metadata::encode_partition_state(stamped(current, next)))}, {}, txn);
  if (!status.is_ok()) return ErrorCode::REQUEST_TIMED_OUT;
  if (!txn.succeeded) return ErrorCode::FENCED_LEADER_EPOCH;
  return ErrorCode::NONE;
}

ErrorCode ControlPlane::resign_offline_leader(const std::string& topic, PartitionId partition_id, LeaderEpoch epoch) {
  // The etcd record keeps plain integers.
  const int32_t partition = partition_id.value();
  const int32_t leader_epoch = epoch.value();
  auto state = cache_->partition(topic, partition);
  auto view = cache_->topic(topic);
  if (!state || !view || state->leader != options_.node_id || state->leader_epoch != leader_epoch ||
      partition >= static_cast<int32_t>(view->record.replicas.size()))
    return ErrorCode::FENCED_LEADER_EPOCH;
  int32_t successor = -1;
  for (int32_t node : view->record.replicas[partition]) {
    bool in_isr = std::find(state->isr.begin(), state->isr.end(), node) != state->isr.end();
    if (node != options_.node_id && in_isr && cache_->broker(NodeId(node))) {
      successor = node;
      break;
    }
  }
  if (successor < 0) return ErrorCode::NOT_ENOUGH_REPLICAS;
  auto next = *state;
  next.leader = successor;
  ++next.leader_epoch;
  ++next.partition_epoch;
  std::erase(next.isr, options_.node_id);
  if (auto error = write_partition_state(topic, partition, *state, next); error != ErrorCode::NONE) return error;
  spdlog::warn("partition {}-{}: its log is offline here; leader {} -> {} (leader epoch {}, ISR {})", topic, partition,
               options_.node_id, successor, next.leader_epoch, fmt::join(next.isr, ","));
  return ErrorCode::NONE;
}

std::vector<ErrorCode> ControlPlane::elect_leaders_on_request(
    const std::vector<std::pair<std::string, int32_t>>& partitions, bool unclean) {
  std::vector<ErrorCode> out;
  out.reserve(partitions.size());
  // Decided on a view at least as new as etcd is when asked (as the
  // controller's own elections); a write that meets a newer state (the
  // controller's election, an ISR change) decides again on that, a few times.
  auto catch_up = [this] { return catch_up_with_etcd(); };
  auto synced = catch_up();
  bool wrote = false;
  for (const auto& [topic, partition] : partitions) {
    ErrorCode result = ErrorCode::REQUEST_TIMED_OUT;
    for (int attempt = 0; synced && attempt < 3; ++attempt) {
      result = elect_one_on_request(topic, partition, unclean);
      if (result != ErrorCode::FENCED_LEADER_EPOCH) break;
      result = ErrorCode::REQUEST_TIMED_OUT;
      synced = catch_up();
    }
    wrote = wrote || result == ErrorCode::NONE;
    out.push_back(result);
  }
  // The caller's next Metadata shows the new leaders.
  if (wrote)
    if (auto now = catch_up(); !now) spdlog::warn("the metadata watch is behind etcd: Metadata may lag");
  return out;
}

std::optional<int64_t> ControlPlane::catch_up_with_etcd() {
  etcd::RangeResponse now;
  if (!admin_client_.range(keys_.controller(), {}, now).is_ok()) return std::nullopt;
  if (!cache_->wait_for_revision(now.revision, std::chrono::seconds(2))) return std::nullopt;
  return now.revision;
}

ErrorCode ControlPlane::elect_one_on_request(const std::string& topic, int32_t partition, bool unclean) {
  auto view = cache_->topic(topic);
  if (!view || partition < 0 || partition >= static_cast<int32_t>(view->partitions.size()) ||
      partition >= static_cast<int32_t>(view->record.replicas.size()))
    return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  const auto& current = view->partitions[partition];
  const auto& replicas = view->record.replicas[partition];
  const std::set<int32_t> live = live_brokers();
  const std::set<int32_t> stopping = stopping_brokers();
  const std::set<int32_t> eligible = controller::eligible_leaders(live, stopping);
  const bool leader_live = current.leader >= 0 && live.count(current.leader);
  std::optional<metadata::PartitionState> next;
  if (!unclean) {
    if (leader_live && !replicas.empty() && current.leader == replicas.front()) return ErrorCode::ELECTION_NOT_NEEDED;
    next = controller::prefer_leader(current, replicas, eligible);
    // Kafka's preferred election falls back to another live ISR member for
    // a partition whose leader is gone.
    if (!next && !leader_live) next = controller::elect_leader(current, replicas, live, stopping, /*unclean=*/false);
    if (!next || next->leader < 0) return ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE;
  } else {
    if (leader_live) return ErrorCode::ELECTION_NOT_NEEDED;
    next = controller::elect_leader(current, replicas, live, stopping, /*unclean=*/true);
    if (!next || next->leader < 0) return ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE;
  }
  if (auto error = write_partition_state(topic, partition, current, *next); error != ErrorCode::NONE) return error;
  spdlog::info("partition {}-{}: {} election asked for: leader {} -> {} (leader epoch {}, ISR {})", topic, partition,
               unclean ? "unclean" : "preferred", current.leader, next->leader, next->leader_epoch,
               fmt::join(next->isr, ","));
  return ErrorCode::NONE;
}

bool ControlPlane::unclean_election_enabled(const metadata::TopicRecord& record) const {
  if (auto it = record.configs.find("unclean.leader.election.enable"); it != record.configs.end()) {
    try {
      return config::parse_bool(it->first, it->second);
    } catch (const ConfigError&) {
      // Validated when written; a value edited by hand in etcd falls back.
    }
  }
  return options_.unclean_leader_election_default ? options_.unclean_leader_election_default()
                                                  : options_.unclean_leader_election;
}

int64_t ControlPlane::broker_epoch(int32_t node) const { return node >= 0 ? cache_->broker_epoch(NodeId(node)) : 0; }

metadata::PartitionState ControlPlane::stamped(const metadata::PartitionState& current,
                                               metadata::PartitionState next) const {
  if (next.leader != current.leader || next.leader_epoch != current.leader_epoch)
    next.leader_broker_epoch = broker_epoch(next.leader);
  return next;
}

std::set<int32_t> ControlPlane::live_brokers() const {
  std::set<int32_t> out;
  for (const auto& b : cache_->brokers()) out.insert(b.node_id);
  return out;
}

std::set<int32_t> ControlPlane::stopping_brokers() const {
  std::set<int32_t> out;
  for (const auto& b : cache_->brokers())
    if (b.in_controlled_shutdown) out.insert(b.node_id);
  return out;
}

std::vector<controller::BrokerSlot> ControlPlane::live_slots() const {
  std::vector<controller::BrokerSlot> out;
  for (const auto& b : cache_->brokers())
    if (!b.in_controlled_shutdown) out.push_back({b.node_id, b.rack});
  return out;
}

void ControlPlane::await_cache(int64_t revision) {
  if (!cache_->wait_for_revision(revision, std::chrono::seconds(5)))
    spdlog::warn("the metadata watch is behind etcd revision {}: Metadata may lag", revision);
}

ErrorCode ControlPlane::create_topic(const std::string& name, int32_t partitions, int16_t replication_factor,
                                     const controller::Assignment* manual,
                                     const std::map<std::string, std::string>& configs, bool internal,
                                     std::string* message) {
  metadata::TopicRecord record;
  record.id = random_topic_id();
  record.configs = configs;
  record.internal = internal;
  auto brokers = live_slots();
  ErrorCode error =
      manual ? controller::validate_manual_assignment(brokers, *manual, message)
             : controller::assign_replicas(brokers, {partitions, replication_factor}, record.replicas, message);
  if (error != ErrorCode::NONE) return error;
  if (manual) record.replicas = *manual;
  const auto key = keys_.topic(name);
  etcd::TxnResponse txn;
  auto status = admin_client_.txn({etcd::Compare::create_revision(key, 0)},
                                  {etcd::Op::put(key, metadata::encode_topic(record))}, {}, txn);
  if (!status.is_ok()) return unreachable(status, message);
  if (!txn.succeeded) {
    if (message) *message = "Topic '" + name + "' already exists.";
    return ErrorCode::TOPIC_ALREADY_EXISTS;
  }
  await_cache(txn.revision);
  return ErrorCode::NONE;
}

ErrorCode ControlPlane::import_topic(const std::string& name, const metadata::TopicRecord& record,
                                     std::string* message) {
  const auto key = keys_.topic(name);
  etcd::TxnResponse txn;
  auto status = admin_client_.txn({etcd::Compare::create_revision(key, 0)},
                                  {etcd::Op::put(key, metadata::encode_topic(record))}, {}, txn);
  if (!status.is_ok()) return unreachable(status, message);
  if (!txn.succeeded) return ErrorCode::TOPIC_ALREADY_EXISTS;
  await_cache(txn.revision);
  return ErrorCode::NONE;
}

ErrorCode ControlPlane::delete_topic(const std::string& name, std::string* message) {
  const auto key = keys_.topic(name);
  etcd::TxnResponse txn;
  auto partitions = keys_.partitions_of(name);
  auto status =
      admin_client_.txn({etcd::Compare{key, etcd::Compare::Target::kCreate, etcd::Compare::Result::kGreater, 0, {}}},
                        {etcd::Op::del(key), etcd::Op::del(partitions, etcd::prefix_end(partitions))}, {}, txn);
  if (!status.is_ok()) return unreachable(status, message);
  if (!txn.succeeded) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  await_cache(txn.revision);
  return ErrorCode::NONE;
}

ErrorCode ControlPlane::add_partitions(const std::string& name, int32_t total, const controller::Assignment* manual,
                                       std::string* message) {
  // A change of the topic between our read of the cache and the write (two
  // brokers adding partitions at once) fails the fenced write: start again
  // from the cache, which by then holds the other change.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto error = try_add_partitions(name, total, manual, message);
    if (error != ErrorCode::NOT_CONTROLLER) return error;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  if (message) *message = "The topic kept changing while partitions were added; retry.";
  return ErrorCode::REQUEST_TIMED_OUT;
}

ErrorCode ControlPlane::set_topic_configs(const std::string& name, const std::map<std::string, std::string>& configs,
                                          std::string* message) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto view = cache_->topic(name);
    if (!view) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    auto record = view->record;
    record.configs = configs;
    const auto key = keys_.topic(name);
    etcd::TxnResponse txn;
    auto status = admin_client_.txn({etcd::Compare::mod_revision(key, view->mod_revision)},
                                    {etcd::Op::put(key, metadata::encode_topic(record))}, {}, txn);
    if (!status.is_ok()) return unreachable(status, message);
    if (txn.succeeded) {
      await_cache(txn.revision);
      return ErrorCode::NONE;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  if (message) *message = "The topic kept changing while its configs were set; retry.";
  return ErrorCode::REQUEST_TIMED_OUT;
}

ErrorCode ControlPlane::try_add_partitions(const std::string& name, int32_t total, const controller::Assignment* manual,
                                           std::string* message) {
  auto view = cache_->topic(name);
  if (!view) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  int32_t current = static_cast<int32_t>(view->record.replicas.size());
  if (total <= current) {
    if (message)
      *message = total == current
                     ? "Topic already has " + std::to_string(current) + " partitions."
                     : "Topic currently has " + std::to_string(current) +
                           " partitions, which is higher than the requested " + std::to_string(total) + ".";
    return ErrorCode::INVALID_PARTITIONS;
  }
  controller::Assignment added;
  auto brokers = live_slots();
  ErrorCode error;
  if (manual) {
    error = controller::validate_manual_assignment(brokers, *manual, message);
    if (error == ErrorCode::NONE && static_cast<int32_t>(manual->size()) != total - current) {
      if (message)
        *message = "Increasing the number of partitions by " + std::to_string(total - current) + " but " +
                   std::to_string(manual->size()) + " assignments provided.";
      error = ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
    added = *manual;
  } else {
    auto rf = static_cast<int16_t>(view->record.replicas[0].size());
    error = controller::assign_replicas(brokers, {total - current, rf, current}, added, message);
  }
  if (error != ErrorCode::NONE) return error;
  auto record = view->record;
  record.replicas.insert(record.replicas.end(), added.begin(), added.end());
  const auto key = keys_.topic(name);
  etcd::TxnResponse txn;
  auto status = admin_client_.txn({etcd::Compare::mod_revision(key, view->mod_revision)},
                                  {etcd::Op::put(key, metadata::encode_topic(record))}, {}, txn);
  if (!status.is_ok()) return unreachable(status, message);
  if (!txn.succeeded) return ErrorCode::NOT_CONTROLLER;  // lost the race: try_add_partitions' caller retries
  await_cache(txn.revision);
  return ErrorCode::NONE;
}

std::optional<int64_t> ControlPlane::reserve_producer_ids(int64_t size) {
  const std::string key = keys_.prefix + "producer-ids";
  // admin_client_: this runs on the broker's control thread, like topic admin.
  for (int attempt = 0; attempt < 10; ++attempt) {
    etcd::RangeResponse current;
    if (!admin_client_.range(key, {}, current).is_ok()) return std::nullopt;
    int64_t first = 0;
    auto compare = etcd::Compare::create_revision(key, 0);
    if (!current.kvs.empty()) {
      auto next = metadata::decode_producer_ids(current.kvs.front().value);
      if (!next) {
        spdlog::error("{} in etcd does not decode: no producer ids can be handed out", key);
        return std::nullopt;
      }
      first = *next;
      compare = etcd::Compare::mod_revision(key, current.kvs.front().mod_revision);
    }
    etcd::TxnResponse txn;
    if (!admin_client_.txn({compare}, {etcd::Op::put(key, metadata::encode_producer_ids(first + size))}, {}, txn)
             .is_ok())
      return std::nullopt;
    if (txn.succeeded) return first;  // another broker won the race: read again
  }
  return std::nullopt;
}

ErrorCode ControlPlane::update_acls(const std::function<std::string(const std::string&)>& change,
                                    std::string* message) {
  return update_document(keys_.acls(), "the ACLs", change, message);
}

ErrorCode ControlPlane::update_broker_configs(const std::function<std::string(const std::string&)>& change,
                                              std::string* message) {
  return update_document(keys_.broker_configs(), "the broker configs", change, message);
}

ErrorCode ControlPlane::update_scram_credentials(const std::function<std::string(const std::string&)>& change,
                                                 std::string* message) {
  return update_document(keys_.scram_credentials(), "the SCRAM credentials", change, message);
}

etcd::Status ControlPlane::seed_scram_credentials(const std::optional<std::string>& initial, std::string& value,
                                                  int64_t& mod_revision, bool& created) {
  const auto key = keys_.scram_credentials();
  auto deadline = Clock::now() + options_.startup_timeout;
  Throttle throttle;
  while (true) {
    etcd::TxnResponse txn;
    etcd::Status status;
    if (initial) {
      status = client_.txn({etcd::Compare::create_revision(key, 0)}, {etcd::Op::put(key, *initial)},
                           {etcd::Op::range(key)}, txn);
    } else {
      status = client_.txn({}, {etcd::Op::range(key)}, {}, txn);
    }
    if (status.is_ok()) {
      created = initial && txn.succeeded;
      if (created) {
        value = *initial;
        mod_revision = txn.revision;
      } else if (!txn.responses.empty() && !txn.responses[0].kvs.empty()) {
        value = txn.responses[0].kvs[0].value;
        mod_revision = txn.responses[0].kvs[0].mod_revision;
      } else {
        value.clear();
        mod_revision = 0;
      }
      return etcd::Status::ok();
    }
    if (status.code() != etcd::Status::Code::kUnavailable || Clock::now() >= deadline) return status;
    if (throttle.allow()) spdlog::warn("waiting for etcd to read the SCRAM credentials: {}", status.to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

ErrorCode ControlPlane::update_document(const std::string& key, const std::string& what,
                                        const std::function<std::string(const std::string&)>& change,
                                        std::string* message) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    etcd::RangeResponse current;
    if (auto status = admin_client_.range(key, {}, current); !status.is_ok()) return unreachable(status, message);
    auto compare = etcd::Compare::create_revision(key, 0);
    std::string text;
    if (!current.kvs.empty()) {
      text = current.kvs.front().value;
      compare = etcd::Compare::mod_revision(key, current.kvs.front().mod_revision);
    }
    std::string next;
    try {
      next = change(text);
    } catch (const std::invalid_argument& e) {
      *message = key + " in etcd: " + e.what();
      return ErrorCode::UNKNOWN_SERVER_ERROR;
    }
    if (next == text) return ErrorCode::NONE;  // nothing changes (or nothing to create)
    etcd::TxnResponse txn;
    if (auto status = admin_client_.txn({compare}, {etcd::Op::put(key, next)}, {}, txn); !status.is_ok())
      return unreachable(status, message);
    if (txn.succeeded) {
      await_cache(txn.revision);
      return ErrorCode::NONE;
    }
  }
  *message = what + " changed under every attempt";
  return ErrorCode::REQUEST_TIMED_OUT;
}

}  // namespace runnel::cluster
