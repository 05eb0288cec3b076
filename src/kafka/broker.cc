#include "kafka/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <tuple>

#include "base/clock.h"
#include "base/paths.h"
#include "base/thread_name.h"
#include "cluster/controller/reassignment.h"
#include "cluster/node_meta.h"

namespace runnel {

int64_t now_ms() { return wall_clock_ms(); }

namespace {

int shard_count(const BrokerConfig& c) {
  if (c.shards > 0) return c.shards;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Broker::Broker(BrokerConfig config, storage::Env* env)
    : config_(std::move(config)),
      env_(env),
      shards_(shard_count(config_)),
      topics_(std::filesystem::path(config_.data_dir) / "meta", config_.log, env_),
      flusher_(env_, static_cast<int>(config_.flush_threads)),
      credentials_(env_, security::CredentialStore::path_in(config_.data_dir)),
      authorizer_(env_, security::Authorizer::path_in(config_.data_dir), config_.authorizer_enabled(),
                  security::AuthorizerConfig{.super_users = {config_.super_users.begin(), config_.super_users.end()},
                                             .allow_everyone_if_no_acl_found = config_.allow_everyone_if_no_acl_found}),
      partitions_({.retention_check_interval_ms = config_.retention_check_interval_ms,
                   .idle_flush_ms = config_.idle_flush_ms,
                   .node_id = NodeId(config_.node_id),
                   .replicated = config_.clustered(),
                   .replica_lag_time_max_ms = config_.replica_lag_time_max_ms,
                   .replica_fetch_wait_max_ms = config_.replica_fetch_wait_max_ms,
                   .replica_fetch_max_bytes = config_.replica_fetch_max_bytes,
                   .num_replica_fetchers = config_.num_replica_fetchers,
                   .inter_broker_sasl = config_.clustered() ? config_.inter_broker_sasl() : std::nullopt,
                   .cleaner = {.enable = config_.log_cleaner_enable && config_.log_cleaner_threads > 0,
                               .threads = config_.log_cleaner_threads,
                               .backoff_ms = config_.log_cleaner_backoff_ms,
                               .dedupe_buffer_size = config_.log_cleaner_dedupe_buffer_size,
                               .io_max_bytes_per_second = config_.log_cleaner_io_max_bytes_per_second}},
                  env_, flusher_, shards_) {
  request_memory_pool_ = std::make_unique<RequestMemoryPool>(config_.queued_max_request_bytes);
  for (int i = 0; i < shards_.size(); ++i) request_metrics_.push_back(std::make_unique<RequestMetrics>());
  std::vector<std::string> listener_names;
  for (const auto& l : config_.listeners) listener_names.push_back(l.name);
  connection_quotas_ =
      std::make_unique<ConnectionQuotas>(std::move(listener_names), config_.inter_broker_listener().name);
  connection_quotas_->configure(effective_connection_quotas(config_.connection_quota_static, {}, config_.node_id));
  // Until dynamic configs are installed: the broker's own timings.
  group_timeouts_.set(group_timeouts({}, config_.group_config_bounds()), {});
  txn_verification_.store(config_.transaction_partition_verification_enable);
  // Its one thread runs this first.
  asio::post(control_pool_, [] { name_this_thread("broker-control"); });
}

Broker::~Broker() { stop(); }

bool Broker::is_offline(const std::string& topic, int32_t partition) const {
  return partitions_.is_offline(topic, partition);
}

Shard& Broker::owner(const std::string& topic, int32_t partition) { return partitions_.owner(topic, partition); }

cluster::Partition* Broker::partition(const std::string& topic, int32_t partition) {
  return serving(partitions_.partition(topic, partition));
}

cluster::Partition* Broker::serving(cluster::Partition* p) {
  // fenced() reads the clock: only for a replica that would be served.
  return p && p->is_leader() ? serving(p, fenced()) : nullptr;
}

cluster::Partition* Broker::serving(cluster::Partition* p, bool fenced) {
  // Fenced: a broker that lost its registration may have been replaced as
  // leader already; it serves nothing until it is back.
  if (!p || !p->is_leader() || fenced) return nullptr;
  return p;
}

bool Broker::fenced() const { return control_plane_ && control_plane_->fenced(); }

void Broker::set_replication_hooks() {
  cluster::PartitionManager::ReplicationHooks hooks;
  // Brokers reach each other's TLS inter-broker listener as TLS clients
  // (throws, failing start-up, when the keystore or truststore does not load).
  const auto& inter = config_.inter_broker_listener();
  if (uses_tls(inter.protocol))
    inter_broker_tls_ =
        std::make_shared<security::TlsContextSource>(config_.tls_of(inter.name), security::TlsSide::kClient);
  if (inter.protocol == SecurityProtocol::kSsl && config_.tls_of(inter.name).client_auth == "none" &&
      config_.authorizer_enabled())
    spdlog::warn(
        "the inter-broker listener {} uses SSL with ssl.client.auth=none: the brokers reach it as User:ANONYMOUS, "
        "which then needs CLUSTER_ACTION (as would any client there); ssl.client.auth=required makes their "
        "certificate their principal",
        inter.name);
  hooks.inter_broker_tls = inter_broker_tls_;
  hooks.resolve = [this](NodeId node) -> std::optional<cluster::replication::ReplicaFetcher::Endpoint> {
    auto e = inter_broker_endpoint(node.value());
    if (!e) return std::nullopt;
    return cluster::replication::ReplicaFetcher::Endpoint{e->host, static_cast<uint16_t>(e->port)};
  };
  hooks.alter_isr = [this](const std::string& topic, PartitionId p, LeaderEpoch epoch,
                           const std::vector<NodeId>& isr) -> asio::awaitable<ErrorCode> {
    auto alter = [&]() { return control_plane_->alter_isr(topic, p, epoch, isr); };
    co_return co_await on_control_pool(alter);
  };
  hooks.fenced = [this] { return fenced(); };
  hooks.resign_offline_leader = [this](const std::string& topic, PartitionId p,
                                       LeaderEpoch epoch) -> asio::awaitable<ErrorCode> {
    auto resign = [&]() { return control_plane_->resign_offline_leader(topic, p, epoch); };
    co_return co_await on_control_pool(resign);
  };
  hooks.on_leadership = [this](int s, const std::string& topic, int32_t p, bool leader) {
    // The coordinator of the groups of an offsets partition lives with its
    // leader: it replays the partition when it takes over (on this shard, in
    // one step, so no request sees a half-loaded group), and drops its
    // groups when it loses it (requests then get NOT_COORDINATOR).
    if (topic == txn::kTransactionStateTopic && s < static_cast<int>(txn_coordinators_.size())) {
      // Likewise for the transaction coordinator: it replays the partition
      // and finishes the transactions it finds in Prepare*.
      if (!leader) {
        txn_coordinators_[s]->unload(p);
        return;
      }
      try {
        txn_coordinators_[s]->load(p);
      } catch (const std::exception& e) {
        spdlog::error("loading the transactions of {}-{} failed: {}", topic, p, e.what());
      }
      return;
    }
    if (topic != group::kOffsetsTopic || s >= static_cast<int>(coordinators_.size())) return;
    if (!leader) {
      set_offsets_loaded(p, false);
      coordinators_[s]->unload(p);
      return;
    }
    try {
      coordinators_[s]->load(p);
    } catch (const std::exception& e) {
      spdlog::error("loading the groups of {}-{} failed: {}", topic, p, e.what());
      return;
    }
    set_offsets_loaded(p, true);
    // Topics deleted in the cluster before this broker took over: etcd's view,
    // not the local catalogue, which may lag behind a topic created meanwhile.
    asio::co_spawn(
        shards_.at(s).io(),
        [this, s, p]() -> asio::awaitable<void> {
          auto exists = [this](const std::string& name) { return control_plane_->cache().topic(name).has_value(); };
          size_t removed = co_await coordinators_[s]->forget_missing_topics(exists);
          if (removed > 0)
            spdlog::info("{}-{}: removed {} committed offsets of deleted topics", group::kOffsetsTopic, p, removed);
        },
        asio::detached);
  };
  hooks.reapply_roles = [this] { schedule_reconcile(); };
  partitions_.set_replication_hooks(std::move(hooks));
}

void Broker::set_advertised(const ListenerConfig& listener, uint16_t bound_port) {
  std::string host = listener.advertised_host.empty() ? listener.host : listener.advertised_host;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  uint16_t port = listener.advertised_port ? listener.advertised_port : bound_port;
  std::erase_if(advertised_, [&](const auto& l) { return l.name == listener.name; });
  advertised_.push_back({listener.name, host, port});
  if (listener.name == config_.inter_broker_listener().name || advertised_.size() == 1) {
    advertised_host_ = host;
    advertised_port_ = port;
  }
}

void Broker::load_identity() {
  auto* env = env_;
  auto stored = cluster::load_node_meta(*env, config_.data_dir);
  std::string proposed = stored ? stored->cluster_id : cluster::random_cluster_id();
  if (config_.clustered()) {
    cluster::ControlPlaneOptions options;
    options.client.endpoints = cluster::etcd::parse_endpoints(config_.etcd_endpoints);
    options.node_id = config_.node_id;
    options.session_ttl_seconds = (config_.broker_session_timeout_ms + 999) / 1000;
    options.on_metadata_change = [this] {
      refresh_acls();
      refresh_credentials();
      refresh_dynamic_configs();
      schedule_reconcile();
    };
    options.unclean_leader_election = config_.unclean_leader_election;
    options.unclean_leader_election_default = [this] { return topics_.defaults().unclean_leader_election; };
    options.controlled_shutdown = config_.controlled_shutdown;
    options.preferred_leader_interval = std::chrono::milliseconds(
        config_.auto_leader_rebalance ? config_.leader_imbalance_check_interval_seconds * 1000 : 0);
    control_plane_ = std::make_unique<cluster::ControlPlane>(options);
    if (auto status = control_plane_->join_cluster(proposed, cluster_id_); !status.is_ok())
      throw std::runtime_error("cannot reach etcd at " + config_.etcd_endpoints + ": " + status.to_string());
  } else {
    cluster_id_ = proposed;
  }
  if (stored) {
    if (auto why = cluster::identity_mismatch(*stored, config_.node_id, config_.clustered() ? cluster_id_ : ""))
      throw std::runtime_error(*why);
  }
  if (!stored || stored->node_id < 0) {
    if (!cluster::store_node_meta(*env, config_.data_dir, {cluster_id_, config_.node_id}))
      throw std::runtime_error("cannot write " +
                               (std::filesystem::path(config_.data_dir) / "meta.properties").string() + ": " +
                               std::strerror(errno));
  }
  // The further log directories carry the same identity (Kafka writes
  // meta.properties into each).
  log_dirs_ = cluster::check_log_dirs(*env, log_dir_paths(), {cluster_id_, config_.node_id});
}

void Broker::join_cluster() {
  if (!control_plane_) return;
  cluster::metadata::BrokerRecord self;
  self.node_id = config_.node_id;
  self.host = advertised_host_;
  self.port = advertised_port_;
  self.rack = config_.rack;
  self.listeners = advertised_;
  self.admin = admin_endpoint_;
  if (auto status = control_plane_->start(self); !status.is_ok())
    throw std::runtime_error("cannot join the cluster: " + status.to_string());
  refresh_acls();  // the listing start() read: the watch reports only later changes
  refresh_credentials();
  refresh_dynamic_configs();
  if (control_plane_->founded_cluster()) import_local_topics();
  producer_ids_ = std::make_unique<cluster::ProducerIdAllocator>(
      [this](int64_t size) { return control_plane_->reserve_producer_ids(size); });
  schedule_reconcile();
}

void Broker::set_admin_endpoint(const std::string& scheme, const std::string& host, uint16_t port) {
  const bool wildcard = host.empty() || host == "0.0.0.0" || host == "::";
  admin_endpoint_ = cluster::metadata::BrokerRecord::AdminEndpoint{scheme, wildcard ? advertised_host_ : host, port};
}

std::vector<Broker::AdminView> Broker::admin_endpoints() const {
  std::vector<AdminView> out;
  if (!control_plane_) return out;
  for (const auto& b : control_plane_->cache().brokers()) out.push_back({b.node_id, b.admin, b.in_controlled_shutdown});
  return out;
}

void Broker::import_local_topics() {
  for (const auto& t : topics_.all()) {
    cluster::metadata::TopicRecord record;
    record.id = t.id;
    record.configs = t.overrides;
    record.internal = t.internal;
    record.replicas.assign(static_cast<size_t>(t.partitions), std::vector<int32_t>{config_.node_id});
    std::string message;
    auto error = control_plane_->import_topic(t.name, record, &message);
    if (error == ErrorCode::NONE)
      spdlog::info("topic {} ({} partitions) of this data dir is now the cluster's", t.name, t.partitions);
    else if (error != ErrorCode::TOPIC_ALREADY_EXISTS)
      spdlog::error("cannot publish topic {} to the cluster: {}", t.name, message);
  }
}

void Broker::schedule_reconcile() {
  if (!control_plane_ || !shards_started_) return;
  asio::co_spawn(
      shards_.at(0).executor(), [this]() -> asio::awaitable<void> { co_await reconcile_now(); }, asio::detached);
}

asio::awaitable<void> Broker::reconcile_now() {
  if (!control_plane_) co_return;
  co_await on_shard(shards_.at(0), [this]() -> asio::awaitable<int> {
    if (reconcile_running_) {
      // Wait for a pass that starts after this call to finish.
      reconcile_again_ = true;
      uint64_t target = reconcile_passes_ + 2;
      asio::steady_timer timer(shards_.at(0).io());
      while (reconcile_passes_ < target && reconcile_running_) {
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return 0;
    }
    reconcile_running_ = true;
    do {
      reconcile_again_ = false;
      try {
        co_await reconcile_once();
      } catch (const std::exception& e) {
        spdlog::error("applying the cluster's metadata failed: {}", e.what());
      }
      ++reconcile_passes_;
    } while (reconcile_again_);
    reconcile_running_ = false;
    co_return 0;
  });
}

asio::awaitable<void> Broker::reconcile_once() {
  std::set<std::string> in_cluster;
  for (const auto& view : control_plane_->cache().topics()) {
    in_cluster.insert(view.name);
    cluster::TopicInfo want;
    want.name = view.name;
    want.id = view.record.id;
    want.internal = view.record.internal;
    want.overrides = view.record.configs;
    want.replicas = view.record.replicas;
    want.partitions = static_cast<int32_t>(want.replicas.size());
    auto have = topics_.find(view.name);
    if (have && have->id != want.id) {
      // Deleted and created again while this broker was away: the old data goes.
      co_await partitions_.drop_everywhere(have->name, 0, have->partitions);
      topics_.remove(have->name);
      spdlog::info("topic {} was re-created in the cluster: dropped the old one's data", have->name);
      co_await forget_group_offsets(have->name);
      have.reset();
    }
    if (have && have->partitions == want.partitions && have->overrides == want.overrides &&
        have->replicas == want.replicas && have->internal == want.internal)
      continue;
    // Replicas moved away from this broker (a completed reassignment) go
    // before the catalogue forgets them, so that a crash in between leaves
    // no directory that nothing opens.
    const NodeId self(config_.node_id);
    const int32_t kept = have ? std::min(have->partitions, want.partitions) : 0;
    for (int32_t p = 0; p < kept; ++p) {
      if (have->holds(PartitionId(p), self) && !want.holds(PartitionId(p), self)) {
        co_await partitions_.drop_everywhere(want.name, p, p + 1);
        spdlog::info("partition {}-{}: its replica moved off this broker; deleted it here", want.name, p);
      }
    }
    // Partitions new to this broker's catalogue, and replicas moved onto it,
    // start empty: a directory of theirs already here was left by a deleted
    // topic of the same name (or an earlier replica) and goes first.
    const int32_t known = have ? have->partitions : 0;
    if (known < want.partitions) co_await partitions_.clear_stale_everywhere(want.name, known, want.partitions);
    for (int32_t p = 0; p < kept; ++p)
      if (!have->holds(PartitionId(p), self) && want.holds(PartitionId(p), self))
        co_await partitions_.clear_stale_everywhere(want.name, p, p + 1);
    std::string message;
    if (topics_.adopt(want, &message) != ErrorCode::NONE) {
      spdlog::error("cannot adopt topic {} from the cluster: {}", want.name, message);
      continue;
    }
    auto info = *topics_.find(want.name);
    int32_t from = have ? have->partitions : 0;
    if (from < info.partitions) {
      if (co_await partitions_.open_everywhere(info, from, info.partitions, &message) != ErrorCode::NONE)
        spdlog::error("partitions of {} stay offline: {}", info.name, message);
    }
    // Replicas moved onto this broker (a reassignment in progress): an
    // empty log that follows the leader until it has caught up.
    for (int32_t p = 0; p < kept; ++p) {
      if (have->holds(PartitionId(p), self) || !info.holds(PartitionId(p), self)) continue;
      if (co_await partitions_.open_everywhere(info, p, p + 1, &message) != ErrorCode::NONE)
        spdlog::error("partition {}-{} stays offline: {}", info.name, p, message);
      else
        spdlog::info("partition {}-{}: a replica moved onto this broker; following its leader", info.name, p);
    }
    if (have && have->overrides != info.overrides) co_await partitions_.apply_topic_config(info);
    if (info.name == group::kOffsetsTopic) offsets_partitions_ = info.partitions;
    if (info.name == txn::kTransactionStateTopic) txn_partitions_ = info.partitions;
    int held = 0;
    for (int32_t p = 0; p < info.partitions; ++p) held += info.holds(PartitionId(p), NodeId(config_.node_id));
    spdlog::info("topic {}: {} partitions in the cluster, {} on this broker", info.name, info.partitions, held);
  }
  for (const auto& t : topics_.all()) {
    if (in_cluster.count(t.name)) continue;
    co_await partitions_.drop_everywhere(t.name, 0, t.partitions);
    topics_.remove(t.name);
    spdlog::info("deleted topic {} (deleted in the cluster)", t.name);
    co_await forget_group_offsets(t.name);
  }
  // Every replica held here takes the role etcd gives it.
  std::vector<cluster::PartitionManager::Role> roles;
  for (const auto& view : control_plane_->cache().topics()) {
    for (int32_t p = 0; p < static_cast<int32_t>(view.partitions.size()); ++p) {
      const auto& replicas = view.record.replicas[p];
      if (std::find(replicas.begin(), replicas.end(), config_.node_id) == replicas.end()) continue;
      const auto& state = view.partitions[p];
      // A leadership from before this broker's registration waits for its
      // new epoch: meanwhile this replica leads nothing and follows nobody.
      const int32_t leader = control_plane_->awaits_new_epoch(state) ? -1 : state.leader;
      // The etcd records keep plain integers.
      roles.push_back({view.name, PartitionId(p), NodeId(leader), LeaderEpoch(state.leader_epoch),
                       to_node_ids(replicas), to_node_ids(state.isr)});
    }
  }
  co_await partitions_.apply_roles(roles);
}

asio::awaitable<std::vector<ErrorCode>> Broker::elect_leaders(std::vector<std::pair<std::string, int32_t>> partitions,
                                                              bool unclean) {
  if (!control_plane_) {
    std::vector<ErrorCode> out;
    for (const auto& [topic, partition] : partitions) {
      auto info = topics_.find(topic);
      out.push_back(info && partition >= 0 && partition < info->partitions ? ErrorCode::ELECTION_NOT_NEEDED
                                                                           : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }
    co_return out;
  }
  co_return co_await asio::co_spawn(
      control_pool_.get_executor(),
      [this, &partitions, unclean]() -> asio::awaitable<std::vector<ErrorCode>> {
        co_return control_plane_->elect_leaders_on_request(partitions, unclean);
      },
      asio::use_awaitable);
}

asio::awaitable<std::vector<cluster::ReassignmentResult>> Broker::alter_reassignments(
    const std::vector<cluster::ReassignmentRequest>& requests, bool allow_replication_factor_change) {
  if (control_plane_) {
    co_return co_await asio::co_spawn(
        control_pool_.get_executor(),
        [this, &requests,
         allow_replication_factor_change]() -> asio::awaitable<std::vector<cluster::ReassignmentResult>> {
          co_return control_plane_->alter_reassignments(requests, allow_replication_factor_change);
        },
        asio::use_awaitable);
  }
  std::vector<cluster::ReassignmentResult> out;
  for (const auto& request : requests) {
    auto& result = out.emplace_back();
    auto info = topics_.find(request.topic);
    namespace controller = cluster::controller;
    if (!info) {
      result = {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, controller::unknown_topic_message(request.topic)};
    } else if (request.partition < 0 || request.partition >= info->partitions) {
      result = {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                controller::unknown_partition_message(request.topic, request.partition)};
    } else if (!request.target) {
      result = {ErrorCode::NO_REASSIGNMENT_IN_PROGRESS, controller::kNoReassignmentInProgress};
    } else if (auto error = controller::validate_target(*request.target, {config_.node_id}, &result.message);
               error != ErrorCode::NONE) {
      result.error = error;
    } else {
      result.error = controller::check_replication_factor(1, request.target->size(), allow_replication_factor_change,
                                                          &result.message);
    }
  }
  co_return out;
}

std::vector<Broker::OngoingReassignment> Broker::ongoing_reassignments() const {
  std::vector<OngoingReassignment> out;
  if (!control_plane_) return out;
  for (const auto& view : control_plane_->cache().topics()) {
    for (const auto& [p, move] : view.record.reassignments) {
      if (p < 0 || p >= static_cast<int32_t>(view.record.replicas.size())) continue;
      out.push_back({view.name, p, view.record.replicas[static_cast<size_t>(p)], move.adding, move.removing});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  return out;
}

asio::awaitable<std::optional<int64_t>> Broker::next_producer_id() {
  std::optional<int64_t> id;
  if (!producer_ids_) co_return id;  // a cluster not joined yet
  auto next = [this, &id]() {
    id = producer_ids_->next();
    return ErrorCode::NONE;
  };
  co_await on_control_pool(next);
  co_return id;
}

std::vector<Broker::Leadership> Broker::leadership(const cluster::TopicInfo& topic) const {
  std::vector<Leadership> out;
  auto view = control_plane_ ? control_plane_->cache().topic(topic.name) : std::nullopt;
  for (int32_t p = 0; p < topic.partitions; ++p) {
    Leadership l;
    if (view && p < static_cast<int32_t>(view->partitions.size())) {
      const auto& state = view->partitions[p];
      // A fenced broker's cache may be stale, and a leadership from before
      // its registration waits for a new epoch: it does not name itself
      // leader then (clients ask another broker), as it serves nothing.
      l.leader = control_plane_->named_leader_but_not_serving(state) ? -1 : state.leader;
      l.leader_epoch = state.leader_epoch;
      l.replicas = view->record.replicas[p];
      l.isr = state.isr;
    } else if (!control_plane_) {
      l.leader = config_.node_id;
      l.replicas = l.isr = {config_.node_id};
      // Offline (unreadable at start-up, or a failed sync since): no leader
      // to send to; clients wait for it as for any leaderless partition.
      if (partitions_.is_offline(topic.name, p)) {
        l.leader = -1;
        l.isr.clear();
        l.offline = {config_.node_id};
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::optional<Broker::Endpoint> Broker::endpoint(int32_t node_id, std::string_view listener) const {
  for (auto& b : cluster_brokers(listener))
    if (b.node_id == node_id) return b;
  return std::nullopt;
}

std::optional<Broker::Endpoint> Broker::inter_broker_endpoint(int32_t node_id) const {
  // The peer's endpoint on the listener named like ours: every broker of a
  // cluster is configured with the same inter.broker.listener.name, and a
  // peer with several listeners publishes each. Records without listeners
  // (older runnel) carry only the inter-broker address.
  if (auto e = endpoint(node_id, config_.inter_broker_listener().name)) return e;
  return endpoint(node_id);
}

ErrorCode Broker::missing_partition_error(const std::string& topic, int32_t partition) const {
  if (control_plane_ && control_plane_->cache().partition(topic, partition)) return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

int32_t Broker::coordinating_leader(const std::string& topic, int32_t partition, bool acting_only) const {
  if (!control_plane_) return config_.node_id;
  auto state = control_plane_->cache().partition(topic, partition);
  if (!state) return -1;
  // Fenced: the coordinator may have moved; its state here may be stale.
  if (acting_only && control_plane_->named_leader_but_not_serving(*state)) return -1;
  return state->leader;
}

int32_t Broker::coordinator_node(const std::string& group_id) const {
  return coordinating_leader(group::kOffsetsTopic, group::offsets_partition_for(group_id, offsets_partitions_),
                             /*acting_only=*/true);
}

int32_t Broker::named_coordinator_node(const std::string& group_id) const {
  return coordinating_leader(group::kOffsetsTopic, group::offsets_partition_for(group_id, offsets_partitions_),
                             /*acting_only=*/false);
}

ErrorCode Broker::coordinator_error(const std::string& group_id) const {
  if (coordinator_node(group_id) != config_.node_id) return ErrorCode::NOT_COORDINATOR;
  if (!control_plane_) return ErrorCode::NONE;  // one node replays every partition before it serves
  std::lock_guard lock(loaded_offsets_mu_);
  return loaded_offsets_partitions_.count(group::offsets_partition_for(group_id, offsets_partitions_))
             ? ErrorCode::NONE
             : ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
}

void Broker::set_offsets_loaded(int32_t partition, bool loaded) {
  std::lock_guard lock(loaded_offsets_mu_);
  if (loaded)
    loaded_offsets_partitions_.insert(partition);
  else
    loaded_offsets_partitions_.erase(partition);
}

std::vector<Broker::Endpoint> Broker::cluster_brokers(std::string_view listener) const {
  auto pick = [&](int32_t node_id, const std::string& host, int32_t port, const std::string& rack,
                  const std::vector<cluster::metadata::BrokerRecord::Listener>& listeners) -> std::optional<Endpoint> {
    if (listener.empty() || listeners.empty()) return Endpoint{node_id, host, port, rack};
    for (const auto& l : listeners)
      if (l.name == listener) return Endpoint{node_id, l.host, l.port, rack};
    return std::nullopt;
  };
  std::vector<Endpoint> out;
  if (!control_plane_) {
    if (auto e = pick(config_.node_id, advertised_host_, advertised_port_, config_.rack, advertised_))
      out.push_back(*e);
    return out;
  }
  for (const auto& b : control_plane_->cache().brokers())
    if (auto e = pick(b.node_id, b.host, b.port, b.rack, b.listeners)) out.push_back(*e);
  return out;
}

int32_t Broker::controller_id() const {
  return control_plane_ ? control_plane_->cache().controller_id() : config_.node_id;
}

std::vector<std::filesystem::path> Broker::log_dir_paths() const {
  std::vector<std::filesystem::path> dirs;
  for (const auto& d : config_.log_dirs()) dirs.push_back(normal_directory(d));
  return dirs;
}

void Broker::start() {
  cluster::check_log_dir_order(*env_, log_dir_paths());  // before the first directory's meta/ is created
  // Durably, as Kafka creates a missing log directory: the files written
  // in it later (the node's identity, topics.json) sync only meta/ itself.
  if (!env_->create_dirs_durably(std::filesystem::path(config_.data_dir) / "meta"))
    throw std::runtime_error("cannot create " + config_.data_dir + "/meta: " + std::strerror(errno));
  load_identity();
  if (control_plane_)
    seed_credentials();  // before any listener: a client's first login already sees the cluster's users
  else if (std::string error; !credentials_.load(&error))
    throw std::runtime_error(error);
  if (std::string error; !control_plane_ && !authorizer_.load(&error)) throw std::runtime_error(error);
  if (control_plane_) set_replication_hooks();  // before any shard runs
  if (!control_plane_)
    producer_ids_ = std::make_unique<cluster::ProducerIdAllocator>(cluster::file_block_reserver(
        *storage::Env::posix(), std::filesystem::path(config_.data_dir) / "meta" / "producer-id-block"));
  if (!control_plane_) load_dynamic_configs();  // before the topics: their defaults
  topics_.load();
  topics_.set_max_partitions(config_.effective_max_partitions());
  partitions_.start(std::move(log_dirs_), config_.effective_max_open_files());
  // Its own handle: the one syncfs reports writeback errors through.
  flusher_.sync_filesystem_when_busy(env_->open_dir(config_.data_dir),
                                     static_cast<size_t>(config_.flush_syncfs_min_requests));
  flusher_.start();
  shards_.start();
  shards_started_ = true;
  auto topics = topics_.all();
  auto offsets_topic = topics_.find(group::kOffsetsTopic);
  offsets_partitions_ = offsets_topic ? offsets_topic->partitions : config_.offsets_topic_num_partitions;
  group::GroupLimits limits{config_.group_min_session_timeout_ms, config_.group_max_session_timeout_ms,
                            config_.group_initial_rebalance_delay_ms, config_.group_max_size};
  for (int s = 0; s < shards_.size(); ++s) {
    coordinators_.push_back(std::make_unique<group::Coordinator>(
        shards_.at(s).io(), limits, /*offset.metadata.max.bytes=*/4096,
        [this](int32_t p) { return partition(group::kOffsetsTopic, p); }, offsets_partitions_,
        config_.offsets_compaction_min_records));
    coordinators_.back()->set_offsets_retention(config_.offsets_retention_ms,
                                                config_.offsets_retention_check_interval_ms);
    group::ConsumerGroupConfig consumer_config;
    consumer_config.heartbeat_interval_ms = config_.group_consumer_heartbeat_interval_ms;
    consumer_config.session_timeout_ms = config_.group_consumer_session_timeout_ms;
    consumer_config.max_size = config_.group_consumer_max_size;
    consumer_config.assignors = config_.group_consumer_assignors;
    consumer_config.migration_policy = group::parse_migration_policy(config_.group_consumer_migration_policy)
                                           .value_or(group::MigrationPolicy::Bidirectional);
    coordinators_.back()->set_consumer_group_config(std::move(consumer_config));
    coordinators_.back()->set_group_timeouts(&group_timeouts_);
    coordinators_.back()->set_topic_catalog(group_topic_catalog());
  }
  auto txn_topic = topics_.find(txn::kTransactionStateTopic);
  // An existing topic keeps its count: it decides which partition holds
  // each transactional id's state.
  txn_partitions_ = txn_topic ? txn_topic->partitions : default_txn_state_partitions();
  txn::CoordinatorConfig txn_config;
  txn_config.state_partitions = txn_partitions_;
  txn_config.max_timeout_ms = config_.transaction_max_timeout_ms;
  txn_config.abort_interval_ms = config_.transaction_abort_timed_out_interval_ms;
  txn_config.id_expiration_ms = config_.transactional_id_expiration_ms;
  txn_config.compaction_min_records = config_.offsets_compaction_min_records;
  for (int s = 0; s < shards_.size(); ++s) {
    txn::CoordinatorHooks hooks;
    hooks.state_partition = [this](int32_t p) { return partition(txn::kTransactionStateTopic, p); };
    hooks.next_producer_id = [this]() { return next_producer_id(); };
    hooks.write_markers = [this](const txn::MarkerRequest& request) { return write_markers_anywhere(request); };
    txn_coordinators_.push_back(std::make_unique<txn::Coordinator>(shards_.at(s).io(), txn_config, std::move(hooks)));
    auto& metrics = request_metrics(s);
    txn_verifiers_.push_back(std::make_unique<TxnVerifier>(shards_.at(s).io(), inter_broker_sasl_, inter_broker_tls_,
                                                           &metrics.txn_verifier_connections));
    txn_marker_senders_.push_back(std::make_unique<TxnMarkerSender>(
        shards_.at(s).io(), inter_broker_sasl_, inter_broker_tls_, &metrics.txn_marker_connections));
  }
  partitions_.open_all(topics, [this](int s) {
    // One node coordinates every group and transaction. In a cluster a
    // coordinator replays a partition when it becomes its leader
    // (on_leadership); a follower's replica is not its to answer for.
    if (!control_plane_) {
      for (int32_t p = 0; p < offsets_partitions_; ++p)
        if (&owner(group::kOffsetsTopic, p) == &shards_.at(s)) coordinators_[s]->load(p);
      for (int32_t p = 0; p < txn_partitions_; ++p)
        if (&owner(txn::kTransactionStateTopic, p) == &shards_.at(s)) txn_coordinators_[s]->load(p);
    }
    coordinators_[s]->start();
    txn_coordinators_[s]->start();
  });
  spdlog::info("opened {} partitions of {} topics ({} descriptors cached, limits: {} open files, {} partitions)",
               topics_.total_partitions(), topics.size(), partitions_.open_descriptor_count(),
               config_.effective_max_open_files(), config_.effective_max_partitions());
  partitions_.start_timers();
}

void Broker::controlled_shutdown() {
  if (control_plane_) control_plane_->controlled_shutdown();
}

void Broker::stop() {
  if (control_plane_) control_plane_->stop();
  if (!shards_started_) {
    // start() failed before the shards ran (the data dir's identity was
    // refused, etcd unreachable): nothing is open, nothing to seal.
    flusher_.stop();
    return;
  }
  if (partitions_.stopped()) return;
  auto started = std::chrono::steady_clock::now();
  // The coordinators stop on their shards right before the partitions they
  // append to are sealed.
  size_t changed_count = partitions_.stop([this](int s) {
    if (s < static_cast<int>(coordinators_.size())) coordinators_[s]->stop();
    if (s < static_cast<int>(txn_coordinators_.size())) txn_coordinators_[s]->stop();
    if (s < static_cast<int>(txn_verifiers_.size())) txn_verifiers_[s]->stop();
    if (s < static_cast<int>(txn_marker_senders_.size())) txn_marker_senders_[s]->stop();
  });
  shards_.stop();
  flusher_.stop();
  spdlog::info("closed {} partitions ({} changed) in {:.0f} ms", topics_.total_partitions(), changed_count,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
}

Shard& Broker::coordinator_shard(const std::string& group_id) {
  return owner(group::kOffsetsTopic, group::offsets_partition_for(group_id, offsets_partitions_));
}

group::TopicCatalog Broker::group_topic_catalog() {
  group::TopicCatalog catalog;
  catalog.find = [this](const std::string& name) -> std::optional<group::SubscribedTopic> {
    auto info = topics_.find(name);
    if (!info || info->internal || info->partitions <= 0) return std::nullopt;
    return group::SubscribedTopic{info->id, info->name, info->partitions};
  };
  catalog.names = [this]() {
    std::vector<std::string> names;
    for (const auto& t : topics_.all())
      if (!t.internal) names.push_back(t.name);
    return names;
  };
  return catalog;
}

group::Coordinator& Broker::coordinator() { return *coordinators_[current_shard()->id()]; }

asio::awaitable<bool> Broker::ensure_offsets_topic() {
  if (topics_.find(group::kOffsetsTopic)) co_return true;
  std::string message;
  const std::map<std::string, std::string> overrides = {
      {"segment.bytes", std::to_string(config_.offsets_topic_segment_bytes)}};
  // offsets.topic.replication.factor, but no more than the live brokers: a
  // small cluster still gets its consumer groups (Kafka would wait instead).
  int16_t replication_factor = 1;
  if (control_plane_)
    replication_factor = static_cast<int16_t>(
        std::clamp<size_t>(control_plane_->cache().brokers().size(), 1, config_.offsets_topic_replication_factor));
  auto error = co_await create_topic(group::kOffsetsTopic, offsets_partitions_, replication_factor, nullptr, overrides,
                                     &message, /*internal=*/true);
  co_return error == ErrorCode::NONE || error == ErrorCode::TOPIC_ALREADY_EXISTS;
}

asio::awaitable<std::optional<cluster::TopicInfo>> Broker::find_or_auto_create(const std::string& name, bool allow) {
  if (auto info = topics_.find(name)) co_return info;
  if (!allow || !config_.auto_create_topics || cluster::validate_topic_name(name) != ErrorCode::NONE)
    co_return std::nullopt;
  std::string message;
  const std::map<std::string, std::string> no_overrides;
  auto error = co_await create_topic(name, config_.num_partitions, no_overrides, &message);
  if (error != ErrorCode::NONE && error != ErrorCode::TOPIC_ALREADY_EXISTS) {
    spdlog::warn("auto-creating topic {} failed: {}", name, message);
    co_return std::nullopt;
  }
  co_return topics_.find(name);
}

}  // namespace runnel
