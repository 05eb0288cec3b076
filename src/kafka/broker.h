#pragma once
// The broker node: configuration, the shards, the topic catalogue, the
// partitions (through a cluster::PartitionManager, which owns their lifecycle)
// and the group coordinators. Handlers reach everything through it.
//
// Thread-safety: config(), shards(), topics() and owner() are safe from any
// thread. partition() must be called on the owning shard (owner(topic, p)).
// create_topic(), delete_topic() and add_partitions() are coroutines that hop
// to the owning shards themselves and may be awaited from any shard.
#include <asio.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/control_plane.h"
#include "cluster/metadata/records.h"
#include "cluster/partition.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "cluster/topic_table.h"
#include "config/broker_config.h"
#include "config/dynamic_broker_config.h"
#include "group/coordinator.h"
#include "kafka/client_quota_manager.h"
#include "kafka/connection_quotas.h"
#include "kafka/request_memory_pool.h"
#include "kafka/request_metrics.h"
#include "kafka/txn_marker_sender.h"
#include "kafka/txn_markers.h"
#include "kafka/txn_verifier.h"
#include "runtime/shard.h"
#include "security/authorizer.h"
#include "security/credential_store.h"
#include "security/tls_context.h"
#include "storage/flusher.h"
#include "txn/coordinator.h"

namespace runnel {

class Broker {
 public:
  // Every file is read and written through `env` (a test may pass a
  // FaultInjectionEnv; it must outlive the broker).
  explicit Broker(BrokerConfig config, storage::Env* env = storage::Env::posix());
  ~Broker();

  // Opens every partition found in the catalogue (running log recovery), then
  // starts the shard threads. Blocks until the partitions are open. A
  // partition that cannot be opened is logged and left offline: the broker
  // never refuses to start over one partition.
  void start();
  // In a cluster, before the listeners close: Kafka's controlled shutdown
  // (cluster::ControlPlane::controlled_shutdown), so that this broker's
  // leaderships move while it still serves. Blocking, at most the session
  // timeout; nothing on a single node.
  void controlled_shutdown();
  // Clean shutdown: seals the partitions changed in this run, makes everything
  // durable with one syncfs, writes their clean-shutdown markers and stops the
  // shards. Partitions never written since start-up are not touched.
  void stop();

  const BrokerConfig& config() const { return config_; }
  ShardSet& shards() { return shards_; }
  cluster::TopicTable& topics() { return topics_; }
  const std::string& cluster_id() const { return cluster_id_; }
  // The address Metadata hands out for one listener: its advertised.listeners
  // entry, else the bound address (0.0.0.0 becomes 127.0.0.1). Called once
  // per listener at start-up, before any request.
  void set_advertised(const ListenerConfig& listener, uint16_t bound_port);
  // The TLS client context this broker reaches the others with (null unless
  // the inter-broker listener uses TLS); made by start().
  std::shared_ptr<security::TlsContextSource> inter_broker_tls() const { return inter_broker_tls_; }
  // The inter-broker listener's advertised address (what etcd registers).
  const std::string& advertised_host() const { return advertised_host_; }
  uint16_t advertised_port() const { return advertised_port_; }
  // The admin listener's address, registered with the broker in etcd so
  // that the other brokers' consoles can read its /metrics; call before
  // join_cluster(). A wildcard host registers the advertised host.
  void set_admin_endpoint(const std::string& scheme, const std::string& host, uint16_t port);
  // The admin listeners of the live brokers (this one included), by node id,
  // and whether each is in controlled shutdown. Empty on a single node.
  struct AdminView {
    int32_t node_id = -1;
    std::optional<cluster::metadata::BrokerRecord::AdminEndpoint> admin;  // nullopt: it registered none
    bool in_controlled_shutdown = false;
  };
  std::vector<AdminView> admin_endpoints() const;
  // SCRAM credentials: on a single node DATA/meta/scram-credentials, loaded
  // by start(); in a cluster etcd's `scram-credentials` key, read by start()
  // (which first uploads the data dir's file when the cluster has none yet)
  // and kept in line by the metadata watch.
  security::CredentialStore& credentials() { return credentials_; }
  // AlterUserScramCredentials: replaces the users by change(current) (which
  // runs again on the newer value when another broker changed them first),
  // in the file here or in etcd (every broker's watch installs it). NONE, or
  // the error with *message.
  asio::awaitable<ErrorCode> update_credentials(
      std::function<security::CredentialMap(const security::CredentialMap&)> change, std::string* message);
  // The ACLs and their decision (authorizer.class.name). On a single node
  // loaded from DATA/meta/acls.json by start(); in a cluster kept in line
  // with etcd's `acls` key by the metadata watch.
  const security::Authorizer& authorizer() const { return authorizer_; }
  // CreateAcls / DeleteAcls: replaces the ACLs by change(current): in the
  // file here, or in etcd (every broker's watch installs it). NONE, or the
  // error with *message.
  asio::awaitable<ErrorCode> update_acls(std::function<security::AclSet(const security::AclSet&)> change,
                                         std::string* message);

  // Dynamic broker configs (config/dynamic_broker_config.h): on a single
  // node loaded from DATA/meta/broker-configs.json by start(); in a cluster
  // kept in line with etcd's `broker-configs` key by the metadata watch.
  DynamicBrokerConfigs dynamic_configs() const;
  // IncrementalAlterConfigs / AlterConfigs on BROKER resources: replaces the
  // dynamic configs by change(current) (which may throw ConfigError: the
  // answer is then INVALID_CONFIG with its message), in the file here or in
  // etcd, and applies the new topic defaults to every topic without its own
  // setting before it returns (in a cluster, the other brokers as their
  // watch sees it). NONE, or the error with *message.
  asio::awaitable<ErrorCode> update_dynamic_configs(
      std::function<DynamicBrokerConfigs(const DynamicBrokerConfigs&)> change, std::string* message);
  // Every key of the broker's configuration (app/config's), so that
  // AlterConfigs tells a static key (INVALID_REQUEST) from an unknown one
  // (INVALID_CONFIG). Set once before start().
  void set_known_config_keys(std::vector<std::string> keys) { known_config_keys_ = std::move(keys); }
  bool is_known_config_key(const std::string& key) const;

  // Cluster mode (runnel.etcd.endpoints): registers this broker in etcd under
  // its advertised address and starts following the cluster's metadata.
  // Called once the listener is bound. Throws when it cannot join.
  void join_cluster();
  // The brokers clients are told about and the controller: this node alone on
  // a single node, the live brokers registered in etcd in a cluster.
  struct Endpoint {
    int32_t node_id;
    std::string host;
    int32_t port;
    std::string rack;
  };
  // `listener`: the endpoints of that listener (a client is told those of
  // the listener it connected to; a broker without it is left out); empty:
  // the inter-broker listener's.
  std::vector<Endpoint> cluster_brokers(std::string_view listener = {}) const;
  int32_t controller_id() const;
  // nullptr on a single node.
  const cluster::ControlPlane* control_plane() const { return control_plane_.get(); }

  // The connection counts and limits every listener's accept loop checks
  // (kafka/connection_quotas.h): static settings from the start, dynamic
  // ones installed with the other dynamic broker configs.
  ConnectionQuotas& connection_quotas() { return *connection_quotas_; }
  const ConnectionQuotas& connection_quotas() const { return *connection_quotas_; }
  // The byte-rate client quotas Produce and Fetch record against
  // (kafka/client_quota_manager.h), installed with the dynamic configs.
  ClientQuotaManager& client_quotas() { return client_quotas_; }
  const ClientQuotaManager& client_quotas() const { return client_quotas_; }
  // queued.max.request.bytes: what every connection's requests lease their
  // bytes from.
  RequestMemoryPool& request_memory_pool() { return *request_memory_pool_; }
  // The request counters of a shard's connections (for /metrics).
  RequestMetrics& request_metrics(int shard_id) { return *request_metrics_[static_cast<size_t>(shard_id)]; }
  const storage::Flusher& flusher() const { return flusher_; }
  // Read-only view for /metrics (its counters are safe from any thread).
  const cluster::PartitionManager& partition_manager() const { return partitions_; }
  cluster::PartitionManager& partition_manager() { return partitions_; }
  // Partitions this node holds but cannot serve (their log failed).
  bool is_offline(const std::string& topic, int32_t partition) const;

  Shard& owner(const std::string& topic, int32_t partition);
  // The partition as clients and the group coordinator may use it: nullptr
  // unless this shard holds it open and this node leads it (in a cluster a
  // follower replica is the replication machinery's alone).
  cluster::Partition* partition(const std::string& topic, int32_t partition);
  // `replica` (this shard's, or null) if clients may use it, as partition() decides.
  cluster::Partition* serving(cluster::Partition* replica);
  // The same with fenced() as read once for many partitions (it reads the
  // clock): a Fetch asks once per shard hop, not once per partition.
  cluster::Partition* serving(cluster::Partition* replica, bool fenced);
  // Whether this broker serves nothing now (ControlPlane::fenced(); never on
  // a single node).
  bool fenced() const;
  // ElectLeaders for each of `partitions`, in order: in a cluster
  // ControlPlane::elect_leaders_on_request on the control thread; a single
  // node leads every partition itself (ELECTION_NOT_NEEDED, or
  // UNKNOWN_TOPIC_OR_PARTITION).
  asio::awaitable<std::vector<ErrorCode>> elect_leaders(std::vector<std::pair<std::string, int32_t>> partitions,
                                                        bool unclean);
  // AlterPartitionReassignments for each of `requests`, in order: in a
  // cluster ControlPlane::alter_reassignments on the control thread; a
  // single node holds every partition itself, so the only target it takes
  // is itself (nothing moves) and there is never a move to cancel.
  asio::awaitable<std::vector<cluster::ReassignmentResult>> alter_reassignments(
      const std::vector<cluster::ReassignmentRequest>& requests, bool allow_replication_factor_change);
  // A move in progress, as ListPartitionReassignments lists it.
  struct OngoingReassignment {
    std::string topic;
    int32_t partition = 0;
    std::vector<int32_t> replicas;  // the target, then the replicas being removed
    std::vector<int32_t> adding;
    std::vector<int32_t> removing;
  };
  // The moves in progress, by topic and partition (none on a single node).
  std::vector<OngoingReassignment> ongoing_reassignments() const;
  // The replication throttle (leader.replication.throttled.rate,
  // follower.replication.throttled.rate) the Fetch handler and the fetchers apply.
  cluster::replication::ReplicationThrottle& replication_throttle() { return partitions_.replication_throttle(); }
  // Any replica of the partition this shard holds open, leader or follower,
  // or nullptr: for reporting on its log (DescribeLogDirs), never for
  // serving it.
  cluster::Partition* replica(const std::string& topic, int32_t partition) {
    return partitions_.partition(topic, partition);
  }

  // Creates the topic and opens its partitions. Errors as TopicTable::create
  // (POLICY_VIOLATION past runnel.max.partitions), or KAFKA_STORAGE_ERROR when
  // a partition cannot be created, in which case nothing of the topic is left.
  asio::awaitable<ErrorCode> create_topic(const std::string& name, int32_t partitions,
                                          const std::map<std::string, std::string>& overrides, std::string* message,
                                          bool internal = false);
  // CreateTopics with a replication factor (-1: default.replication.factor)
  // and, when not null, a manual replica assignment.
  asio::awaitable<ErrorCode> create_topic(const std::string& name, int32_t partitions, int16_t replication_factor,
                                          const cluster::controller::Assignment* manual,
                                          const std::map<std::string, std::string>& overrides, std::string* message,
                                          bool internal = false);
  asio::awaitable<ErrorCode> delete_topic(const std::string& name);
  asio::awaitable<ErrorCode> add_partitions(const std::string& name, int32_t total, std::string* message,
                                            const cluster::controller::Assignment* manual = nullptr);

  // Where a partition is led from, as clients are told: on a single node this
  // node, epoch 0, itself the only replica; in a cluster what etcd says.
  struct Leadership {
    int32_t leader = -1;
    int32_t leader_epoch = 0;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    std::vector<int32_t> offline;  // replicas whose log is offline
  };
  std::vector<Leadership> leadership(const cluster::TopicInfo& topic) const;
  std::optional<Endpoint> endpoint(int32_t node_id, std::string_view listener = {}) const;
  // A broker's address on the inter-broker listener, for replication and
  // transaction markers.
  std::optional<Endpoint> inter_broker_endpoint(int32_t node_id) const;
  // The error for a partition this broker does not serve (partition() gave
  // nullptr): NOT_LEADER_OR_FOLLOWER when the cluster has it elsewhere,
  // UNKNOWN_TOPIC_OR_PARTITION otherwise.
  ErrorCode missing_partition_error(const std::string& topic, int32_t partition) const;
  // The node that coordinates a group: the leader of its __consumer_offsets
  // partition (-1 while there is none, or while it is this broker and it may
  // not act as leader: fenced, or waiting for a new leader epoch).
  int32_t coordinator_node(const std::string& group_id) const;
  // The same as etcd names it, whether or not this broker may act on it now:
  // what FindCoordinator answers, as Kafka answers from its metadata. (A
  // fenced coordinator answering COORDINATOR_NOT_AVAILABLE instead made
  // librdkafka's coordinator requests, send_offsets_to_transaction among
  // them, wait forever: they give up on FindCoordinator after two retries and
  // wait for a connection to change state, with no timeout of their own.)
  int32_t named_coordinator_node(const std::string& group_id) const;
  // Whether this broker may answer for a group now: NONE, NOT_COORDINATOR
  // (another node, or none, coordinates it) or COORDINATOR_LOAD_IN_PROGRESS
  // (this node leads the partition in etcd's view but has not replayed it
  // yet: an empty answer then would send a consumer to auto.offset.reset).
  ErrorCode coordinator_error(const std::string& group_id) const;
  // Replaces a topic's config overrides (AlterConfigs semantics, validated
  // first) and applies them: here, or in a cluster on every broker.
  asio::awaitable<ErrorCode> set_topic_overrides(const std::string& name,
                                                 const std::map<std::string, std::string>& overrides,
                                                 std::string* message);
  // Pushes a topic's changed configuration to its open partitions.
  asio::awaitable<void> apply_topic_config(const std::string& name);

  // Consumer groups. The coordinator of a group lives on the shard that owns
  // its __consumer_offsets partition; coordinator() is the calling shard's.
  Shard& coordinator_shard(const std::string& group_id);
  group::Coordinator& coordinator();
  // The topic catalogue as group coordinators see it (safe from any thread:
  // it reads the TopicTable). Internal topics are never assigned to consumers.
  group::TopicCatalog group_topic_catalog();
  // Creates __consumer_offsets (offsets.topic.num.partitions) on first use.
  asio::awaitable<bool> ensure_offsets_topic();
  int32_t offsets_partitions() const { return offsets_partitions_; }

  // Transactions. The coordinator of a transactional id lives on the shard
  // that owns its __transaction_state partition, on the broker that leads it;
  // txn_coordinator() is the calling shard's.
  Shard& txn_coordinator_shard(const std::string& transactional_id);
  txn::Coordinator& txn_coordinator();
  // The leader of the id's __transaction_state partition (-1: none, or not
  // acting now, as coordinator_node); named_txn_coordinator_node: as etcd
  // names it (FindCoordinator's answer, as named_coordinator_node).
  int32_t txn_coordinator_node(const std::string& transactional_id) const;
  int32_t named_txn_coordinator_node(const std::string& transactional_id) const;
  // On the id's coordinator shard: NONE while this broker may answer for the
  // id, else NOT_COORDINATOR (another node, or none, leads its partition; or
  // this one is fenced or waits for a new epoch, and its state may be stale:
  // a fenced coordinator once answered a new transaction's EndTxn as a retry
  // of the previous, committed one, and the transaction was then aborted).
  ErrorCode txn_coordinator_error(const std::string& transactional_id);
  // __transaction_state's partition count before the topic exists: the
  // configured one, else 50 in a cluster and one per shard on a single node.
  int32_t default_txn_state_partitions() const;
  // Creates __transaction_state (transaction.state.log.*) on first use.
  asio::awaitable<bool> ensure_transaction_state_topic();
  // Writes a COMMIT or ABORT marker for the producer to each partition,
  // wherever it is led: this broker's own with write_txn_markers, the others
  // with WriteTxnMarkers to their leaders. One error per partition, in order.
  asio::awaitable<std::vector<ErrorCode>> write_markers_anywhere(const txn::MarkerRequest& request);

  // transaction.partition.verification.enable as in force now (a dynamic
  // broker config).
  bool txn_verification_enabled() const { return txn_verification_.load(std::memory_order_relaxed); }
  // KIP-890 part 1 (transaction.partition.verification.enable): asks the
  // transactional id's coordinator whether each partition is in the
  // producer's ongoing transaction: on its shard when this broker
  // coordinates the id, else with AddPartitionsToTxn v5 verify_only through
  // this shard's TxnVerifier (kafka/txn_verifier.h). One error per
  // partition, in order: the coordinator's (Coordinator::verify_partitions)
  // or the TxnVerifier's; COORDINATOR_NOT_AVAILABLE while the id's
  // __transaction_state partition has no leader.
  asio::awaitable<std::vector<ErrorCode>> verify_txn_partitions(const std::string& transactional_id,
                                                                int64_t producer_id, int16_t producer_epoch,
                                                                const std::vector<txn::TopicPartition>& partitions);

  // InitProducerId: the next producer id, unique across restarts (and, in a
  // cluster, across brokers); nullopt when no block of ids could be reserved.
  asio::awaitable<std::optional<int64_t>> next_producer_id();

  // Transactions (KIP-98; kafka/txn_markers.cc). Writes a COMMIT
  // (commit=true) or ABORT marker for `producer_id`/`producer_epoch` with
  // `coordinator_epoch` to each listed partition this broker leads, waiting
  // until each marker is acknowledged as acks=all (fdatasync'd on a single
  // node; high watermark past it in a cluster). One error per partition, in
  // order: NONE, NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
  // KAFKA_STORAGE_ERROR, INVALID_PRODUCER_EPOCH,
  // TRANSACTION_COORDINATOR_FENCED, REQUEST_TIMED_OUT, ... Awaitable from
  // any shard; the markers are written to all partitions first, then waited
  // for together (one round of syncs).
  asio::awaitable<std::vector<ErrorCode>> write_txn_markers(int64_t producer_id, int16_t producer_epoch, bool commit,
                                                            int32_t coordinator_epoch,
                                                            const std::vector<TxnMarkerPartition>& partitions);
  // How long write_txn_markers waits for a marker's acknowledgement (Kafka
  // uses request.timeout.ms for its markers' acks=all appends).
  static constexpr int64_t kTxnMarkerTimeoutMs = 30000;

  // Auto-creation as Kafka does it: when enabled and the name is valid, creates
  // the topic with num.partitions. Returns the topic's state afterwards.
  asio::awaitable<std::optional<cluster::TopicInfo>> find_or_auto_create(const std::string& name, bool allow);

 private:
  // The leader etcd names for an internal topic's partition (this node on a
  // single node; -1: none); with `acting_only`, -1 too when that is this
  // broker and it may not act as leader now.
  int32_t coordinating_leader(const std::string& topic, int32_t partition, bool acting_only) const;
  // Reads the data dir's identity (meta.properties), agrees on the cluster id
  // with etcd in cluster mode, and refuses a data dir of another node or
  // cluster. Throws with the reason.
  // Settles the cluster id and node id of the log directories (Kafka's
  // meta.properties) and which of them are online (log_dirs_).
  void load_identity();
  std::vector<cluster::LogDir> log_dirs_;  // from load_identity() to start()
  // log.dirs as absolute, normalized paths, the first first.
  std::vector<std::filesystem::path> log_dir_paths() const;
  // In a cluster: brings the topic catalogue and the open partitions in line
  // with the cluster's metadata (adopts new topics and opens the replicas
  // this node holds, adds partitions, applies configs, drops deleted
  // topics). Runs on shard 0, one pass at a time; a request made while a
  // pass runs makes it run again. reconcile_now() returns once a pass that
  // started after the call has finished.
  asio::awaitable<void> reconcile_now();
  void schedule_reconcile();
  asio::awaitable<void> reconcile_once();
  // A topic is gone from this broker (deleted, or deleted and created again
  // while it was away): the groups coordinated here forget their committed
  // offsets for it, as Kafka's coordinator does.
  asio::awaitable<void> forget_group_offsets(std::string topic);
  // Runs a blocking control-plane call off the shard threads (defined here:
  // broker.cc, broker_security.cc and broker_topics.cc use it).
  template <class F>
  asio::awaitable<ErrorCode> on_control_pool(F& fn) {
    co_return co_await asio::co_spawn(
        control_pool_.get_executor(), [&fn]() -> asio::awaitable<ErrorCode> { co_return fn(); }, asio::use_awaitable);
  }
  // Publishes the topics of the data dir that founded the cluster.
  void import_local_topics();
  // Gives the partition manager what replication needs from the broker:
  // addresses, ISR writes to etcd, and leadership changes for the groups.
  void set_replication_hooks();
  // Marks an offsets partition replayed (after a load) or not (on losing it).
  void set_offsets_loaded(int32_t partition, bool loaded);
  // Cluster: installs the ACLs the metadata cache holds when they changed.
  void refresh_acls();
  // Cluster, at start-up: reads the cluster's SCRAM credentials from etcd,
  // first uploading the data dir's file when etcd has none (a broker of a
  // cluster from before they were shared); with both, etcd's win and the
  // file is ignored (logged). Throws when etcd cannot be read.
  void seed_credentials();
  // Cluster: installs the SCRAM credentials the metadata cache holds when
  // they changed.
  void refresh_credentials();
  // Installs the stored document `text` of mod revision `revision` unless
  // that revision is installed already; under credentials_mu_.
  void install_credentials_locked(int64_t revision, const std::string& text);
  // Single node: reads DATA/meta/broker-configs.json (absent: none). Throws
  // when it does not decode.
  void load_dynamic_configs();
  // Cluster: installs the dynamic broker configs the metadata cache holds
  // when they changed, and applies them to the partitions in the background.
  void refresh_dynamic_configs();
  // Makes `configs` the ones in force: new topic defaults for the catalogue.
  // Returns the topics whose effective config changed. Thread-safe.
  std::vector<std::string> install_dynamic_configs(const DynamicBrokerConfigs& configs);
  // Pushes the changed topics' configs to their open partitions.
  asio::awaitable<void> apply_topic_configs(std::vector<std::string> names);

  BrokerConfig config_;
  // This broker's login on the others' inter-broker listener (SASL only).
  std::optional<InterBrokerSasl> inter_broker_sasl_ = config_.clustered() ? config_.inter_broker_sasl() : std::nullopt;
  // Its TLS client context, when that listener uses TLS (made by start()).
  std::shared_ptr<security::TlsContextSource> inter_broker_tls_;
  storage::Env* env_;
  ShardSet shards_;
  cluster::TopicTable topics_;
  storage::Flusher flusher_;
  std::string cluster_id_;
  std::string advertised_host_;
  uint16_t advertised_port_ = 0;
  std::vector<cluster::metadata::BrokerRecord::Listener> advertised_;  // per listener
  std::optional<cluster::metadata::BrokerRecord::AdminEndpoint> admin_endpoint_;
  security::CredentialStore credentials_;
  security::Authorizer authorizer_;
  std::mutex acls_mu_;                    // serialises refresh_acls() (watch thread and handlers)
  int64_t acls_revision_ = 0;             // of the etcd value installed last; under acls_mu_
  std::mutex credentials_mu_;             // serialises credential installs (watch thread and handlers)
  int64_t credentials_revision_ = 0;      // of the etcd value installed last; under credentials_mu_
  mutable std::mutex dynamic_mu_;         // guards the three below; serialises installs
  DynamicBrokerConfigs dynamic_configs_;  // in force
  int64_t dynamic_revision_ = 0;          // of the etcd value installed last
  std::vector<std::string> known_config_keys_;
  std::unique_ptr<ConnectionQuotas> connection_quotas_;
  ClientQuotaManager client_quotas_;
  cluster::PartitionManager partitions_;  // after shards_ and flusher_, which it uses
  std::unique_ptr<RequestMemoryPool> request_memory_pool_;
  std::vector<std::unique_ptr<RequestMetrics>> request_metrics_;   // one per shard
  std::vector<std::unique_ptr<group::Coordinator>> coordinators_;  // one per shard
  // Each consumer group's timings (its GROUP configs), shared by them all.
  group::GroupTimeoutTable group_timeouts_;
  // transaction.partition.verification.enable in force (dynamic,
  // config/dynamic_txn_config.h).
  std::atomic<bool> txn_verification_{true};
  std::atomic<int32_t> offsets_partitions_{0};
  // In a cluster, the __consumer_offsets partitions this broker's coordinators
  // have replayed since they took them over. Written on the partitions'
  // shards, read by every shard, under the mutex.
  mutable std::mutex loaded_offsets_mu_;
  std::set<int32_t> loaded_offsets_partitions_;
  std::vector<std::unique_ptr<txn::Coordinator>> txn_coordinators_;   // one per shard
  std::vector<std::unique_ptr<TxnVerifier>> txn_verifiers_;           // one per shard
  std::vector<std::unique_ptr<TxnMarkerSender>> txn_marker_senders_;  // one per shard
  std::atomic<int32_t> txn_partitions_{0};
  std::unique_ptr<cluster::ControlPlane> control_plane_;
  bool shards_started_ = false;
  std::unique_ptr<cluster::ProducerIdAllocator> producer_ids_;  // made by start() / join_cluster()
  asio::thread_pool control_pool_{1};
  // Touched only on shard 0.
  bool reconcile_running_ = false;
  bool reconcile_again_ = false;
  uint64_t reconcile_passes_ = 0;
};

int64_t now_ms();

}  // namespace runnel
