#pragma once
// The broker's configuration values, with Kafka's property names in the
// comments: what kafka::Broker is built from (it hands the parts on to the
// partition manager, the control plane and the group coordinator). Reading
// them from a server.properties file or from --set key=value is app/config's
// job. Immutable after load; thread-safe to read.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/group_config.h"
#include "storage/log_config.h"

namespace runnel {

// Kafka's security protocols, the values of listener.security.protocol.map.
enum class SecurityProtocol { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };
std::string_view security_protocol_name(SecurityProtocol p);
std::optional<SecurityProtocol> parse_security_protocol(std::string_view name);
inline bool uses_tls(SecurityProtocol p) { return p == SecurityProtocol::kSsl || p == SecurityProtocol::kSaslSsl; }
inline bool uses_sasl(SecurityProtocol p) {
  return p == SecurityProtocol::kSaslPlaintext || p == SecurityProtocol::kSaslSsl;
}

// One entry of `listeners`, with its advertised address (advertised.listeners
// entry of the same name; empty host: the bound address).
struct ListenerConfig {
  std::string name;  // PLAINTEXT, SASL_SSL, ... or a name mapped in listener.security.protocol.map
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;
  std::string host;
  uint16_t port = 0;
  std::string advertised_host;
  uint16_t advertised_port = 0;
};

// ssl.* (shared by every SSL and SASL_SSL listener, and by this broker's
// connections to the other brokers when the inter-broker listener uses TLS).
// Stores are PEM, PKCS12 or JKS (security/keystore.h).
struct TlsConfig {
  std::string keystore_type = "PEM";       // ssl.keystore.type: PEM, PKCS12 or JKS
  std::string keystore_location;           // ssl.keystore.location: PEM file with the key and its chain, .p12 or .jks
  std::string keystore_password;           // ssl.keystore.password (PKCS12, JKS)
  std::string keystore_key;                // ssl.keystore.key: PEM text of the key
  std::string keystore_certificate_chain;  // ssl.keystore.certificate.chain: PEM text of the chain
  std::string key_password;                // ssl.key.password
  std::string truststore_type = "PEM";     // ssl.truststore.type: PEM, PKCS12 or JKS
  std::string truststore_location;         // ssl.truststore.location: PEM CA bundle, .p12 or .jks
  std::string truststore_password;         // ssl.truststore.password (PKCS12, JKS; may be empty)
  std::string client_auth = "none";        // ssl.client.auth: none, requested, required
  std::vector<std::string> enabled_protocols = {"TLSv1.2", "TLSv1.3"};  // ssl.enabled.protocols
  std::vector<std::string> cipher_suites;                               // ssl.cipher.suites (empty: OpenSSL's)
  std::string principal_mapping_rules = "DEFAULT";                      // ssl.principal.mapping.rules
  // ssl.endpoint.identification.algorithm: "https" (Kafka's default) checks
  // that a peer broker's certificate names the host or IP connected to;
  // empty turns the check off. Only the inter-broker client checks it.
  std::string endpoint_identification_algorithm = "https";
};

// How this broker authenticates to the other brokers' inter-broker listener
// when that listener uses SASL: the mechanism and the login from
// listener.name.<listener>.<mechanism>.sasl.jaas.config.
struct InterBrokerSasl {
  std::string mechanism;  // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  std::string username;
  std::string password;
};

struct BrokerConfig {
  std::string data_dir = "./data";          // log.dirs' first entry / log.dir: meta/ lives here
  std::vector<std::string> extra_log_dirs;  // log.dirs after the first (JBOD: cluster/log_dirs.h)
  // Every log directory, the first (data_dir) first.
  std::vector<std::string> log_dirs() const {
    std::vector<std::string> all{data_dir};
    all.insert(all.end(), extra_log_dirs.begin(), extra_log_dirs.end());
    return all;
  }
  // listeners, advertised.listeners and listener.security.protocol.map as
  // written; app/config's resolve_listeners() turns them into `listeners`.
  std::string listeners_spec = "PLAINTEXT://127.0.0.1:9092";
  std::string advertised_listeners_spec;
  std::string protocol_map_spec = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";
  // controller.listener.names: the listeners of Kafka's KRaft controllers in
  // a Kafka server.properties; runnel has no controllers (etcd is its
  // control plane) and does not open them.
  std::string controller_listener_names_spec;
  // Kafka settings taken without effect (a Kafka server.properties starts
  // runnel unchanged), named in a warning at start-up: app/config.cc says why.
  std::vector<std::string> unused_kafka_settings;
  std::vector<ListenerConfig> listeners;   // resolved, in the order of `listeners`
  std::string inter_broker_listener_name;  // inter.broker.listener.name (empty: PLAINTEXT, else the first)
  // security.inter.broker.protocol (empty: unset). Kafka's alternative to
  // inter.broker.listener.name: the listener named like the protocol.
  std::string security_inter_broker_protocol;
  // sasl.mechanism.inter.broker.protocol. Kafka's default, GSSAPI, is not
  // offered by runnel; PLAIN is.
  std::string sasl_mechanism_inter_broker_protocol = "PLAIN";
  // listener.name.<listener>.<mechanism>.sasl.jaas.config, keyed by
  // "<listener>.<mechanism>" in lower case, the JAAS line as written.
  std::map<std::string, std::string> listener_sasl_jaas;
  // listener.name.<listener>.ssl.*: per listener (lower-case name), the ssl.*
  // keys it sets for itself, as written. app/config's resolve_listeners()
  // folds them over `tls` into listener_tls.
  std::map<std::string, std::map<std::string, std::string>> listener_ssl;
  // Each SSL or SASL_SSL listener's effective ssl.* settings, by listener name.
  std::map<std::string, TlsConfig> listener_tls;
  // sasl.enabled.mechanisms. Kafka's default is GSSAPI, which runnel does not
  // offer; ours is every mechanism runnel has.
  std::vector<std::string> sasl_enabled_mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
  int32_t failed_authentication_delay_ms = 100;  // connection.failed.authentication.delay.ms
  // connections.max.reauth.ms (KIP-368): a SASL session's lifetime; the
  // client re-authenticates before it ends or its connection is closed.
  // 0: sessions do not expire.
  int64_t connections_max_reauth_ms = 0;
  TlsConfig tls;
  // runnel.ssl.reload.interval.ms: how often the keystore and truststore
  // files are checked for changes (modification time, size); changed files
  // are loaded for the connections made after that. 0: never.
  int64_t ssl_reload_interval_ms = 5000;
  // ACLs (security/authorizer): authorizer.class.name (Kafka's
  // StandardAuthorizer or AclAuthorizer class name turns them on; empty: off),
  // super.users ("User:admin;User:broker"), allow.everyone.if.no.acl.found.
  std::string authorizer_class_name;
  std::vector<std::string> super_users;
  bool allow_everyone_if_no_acl_found = false;
  bool authorizer_enabled() const { return !authorizer_class_name.empty(); }
  // The admin HTTP listener (/metrics, /v1/health): HOST:PORT, or "off"
  // (runnel.admin.listen, or --admin).
  std::string admin_listen = "127.0.0.1:9644";
  // runnel.admin.authentication: "none", or "basic" (HTTP Basic checked
  // against the SASL users' SCRAM credentials on every route but /v1/health).
  bool admin_basic_auth = false;
  int32_t node_id = 0;                     // node.id / broker.id
  int32_t num_partitions = 1;              // num.partitions
  int16_t default_replication_factor = 1;  // default.replication.factor
  // __consumer_offsets' replicas; Kafka's default 3, capped at the live
  // brokers (so a one- or two-broker cluster still gets its groups).
  int16_t offsets_topic_replication_factor = 3;  // offsets.topic.replication.factor
  int64_t replica_lag_time_max_ms = 30000;       // replica.lag.time.max.ms
  int32_t replica_fetch_wait_max_ms = 500;       // replica.fetch.wait.max.ms
  int32_t replica_fetch_max_bytes = 1048576;     // replica.fetch.max.bytes
  int32_t num_replica_fetchers = 1;              // num.replica.fetchers (per shard and leader)
  bool controlled_shutdown = true;               // controlled.shutdown.enable
  bool auto_create_topics = true;                // auto.create.topics.enable
  bool delete_topic_enable = true;               // delete.topic.enable
  int32_t message_max_bytes = 1048588;           // message.max.bytes
  int32_t socket_request_max_bytes = 104857600;  // socket.request.max.bytes
  // Request bytes read and not yet answered, broker-wide; <= 0: no limit
  // (kafka/request_memory_pool.h).
  int64_t queued_max_request_bytes = -1;  // queued.max.request.bytes
  // A client connection with nothing read or written for this long, and no
  // request in flight, is closed; < 0: never (Kafka's default, 10 minutes).
  int64_t connections_max_idle_ms = 600000;  // connections.max.idle.ms
  // max.connections, max.connections.per.ip, max.connections.per.ip.overrides
  // and listener.name.<l>.max.connections as the file and --set gave them,
  // validated (config/connection_quota_config.h reads them).
  std::map<std::string, std::string> connection_quota_static;
  int64_t retention_check_interval_ms = 300000;     // log.retention.check.interval.ms
  int32_t offsets_topic_num_partitions = 50;        // offsets.topic.num.partitions
  int64_t offsets_topic_segment_bytes = 104857600;  // offsets.topic.segment.bytes
  int64_t offsets_compaction_min_records = 10000;   // runnel.offsets.compaction.min.records
  // offsets.retention.minutes (7 days), or runnel.offsets.retention.ms (finer,
  // for tests): how long committed offsets outlive their group's last member
  // (or, without a group, their commit). Checked every
  // offsets.retention.check.interval.ms.
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t offsets_retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  int32_t group_initial_rebalance_delay_ms = 3000;       // group.initial.rebalance.delay.ms
  // Transactions: __transaction_state (replication factor and min ISR capped
  // at the live brokers, as for __consumer_offsets) and the coordinator.
  // transaction.state.log.num.partitions; 0 (not set): Kafka's 50 in a
  // cluster, one per shard on a single node. There every partition's records
  // are made durable by an fdatasync of their own file, and a transactional
  // id's records go to its partition only, so with 50 a transaction's two
  // coordinator syncs shared nothing with other producers': 2.2 fdatasyncs
  // per transaction against 0.5 with one partition per shard, and a third
  // more transactions at 64 producers (bench/README.md "The transaction
  // log's partitions"). Kafka, which does not fsync, pays nothing per
  // partition.
  int32_t transaction_state_log_num_partitions = 0;
  int16_t transaction_state_log_replication_factor = 3;     // transaction.state.log.replication.factor
  int32_t transaction_state_log_min_isr = 2;                // transaction.state.log.min.isr
  int64_t transaction_state_log_segment_bytes = 104857600;  // transaction.state.log.segment.bytes
  int32_t transaction_max_timeout_ms = 900000;              // transaction.max.timeout.ms
  int64_t transaction_abort_timed_out_interval_ms =
      10000;                                           // transaction.abort.timed.out.transaction.cleanup.interval.ms
  int64_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms
  // KIP-890 part 1: a partition leader appends the first transactional batch
  // of a producer's transaction only once the coordinator confirmed the
  // partition is in it (transaction.partition.verification.enable; the
  // static value: it changes at run time, config/dynamic_txn_config.h).
  bool transaction_partition_verification_enable = true;
  int32_t group_min_session_timeout_ms = 6000;     // group.min.session.timeout.ms
  int32_t group_max_session_timeout_ms = 1800000;  // group.max.session.timeout.ms
  // Members a group may have (Kafka's defaults: no limit): group.max.size
  // for classic groups, group.consumer.max.size for consumer groups
  // (KIP-848), classic members of a mixed group included.
  int32_t group_max_size = INT32_MAX;           // group.max.size
  int32_t group_consumer_max_size = INT32_MAX;  // group.consumer.max.size
  // KIP-848 consumer groups (ConsumerGroupHeartbeat).
  int32_t group_consumer_heartbeat_interval_ms = 5000;  // group.consumer.heartbeat.interval.ms
  int32_t group_consumer_session_timeout_ms = 45000;    // group.consumer.session.timeout.ms
  // The bounds of a group's own values (the GROUP config resource) and of
  // the two defaults above, Kafka's.
  int32_t group_consumer_min_session_timeout_ms = 45000;     // group.consumer.min.session.timeout.ms
  int32_t group_consumer_max_session_timeout_ms = 60000;     // group.consumer.max.session.timeout.ms
  int32_t group_consumer_min_heartbeat_interval_ms = 5000;   // group.consumer.min.heartbeat.interval.ms
  int32_t group_consumer_max_heartbeat_interval_ms = 15000;  // group.consumer.max.heartbeat.interval.ms
  // group.consumer.assignors: server-side assignors, the first the default
  // (short names, or Kafka's class names for them).
  std::vector<std::string> group_consumer_assignors = {"uniform", "range"};
  // group.consumer.migration.policy: disabled, upgrade, downgrade or
  // bidirectional (Kafka 4's default): online conversion between classic
  // and consumer groups (KIP-848 mixed groups).
  std::string group_consumer_migration_policy = "bidirectional";
  int32_t shards = 0;  // runnel.shards (0: one per core)
  // Descriptors the storage engine keeps open at once, over all shards
  // (runnel.max.open.files; 0: half of RLIMIT_NOFILE, the rest left for
  // sockets and for logs pinned by unsynced appends).
  int64_t max_open_files = 0;
  // Partitions this broker takes on (runnel.max.partitions; 0: RLIMIT_NOFILE,
  // so that even every partition appended to at once fits the limit).
  int64_t max_partitions = 0;
  // A partition with unsynced appends (acks=0/1) and none for this long is
  // synced, releasing the descriptor its data pins (runnel.idle.flush.ms).
  int64_t idle_flush_ms = 1000;
  // When at least this many partitions wait for a sync at once, the flusher
  // makes them durable with one syncfs of the data directory's file system
  // instead of an fdatasync per file (runnel.flush.syncfs.min.requests; 0:
  // never, every partition its own fdatasyncs).
  // 64: a few dozen transactional producers' small syncs run faster as
  // parallel fdatasyncs (bench/README.md "One syncfs for many partitions").
  int64_t flush_syncfs_min_requests = 64;
  // Threads that run the fdatasyncs (runnel.flush.threads): a partition
  // keeps one sync in flight, so this bounds how many partitions sync at
  // once (bench/README.md "Flusher threads").
  int64_t flush_threads = 8;
  // Cluster mode (empty: a single node). etcd's client URLs, comma separated
  // (runnel.etcd.endpoints, or --etcd).
  std::string etcd_endpoints;
  std::string rack;                                       // broker.rack
  int64_t broker_session_timeout_ms = 6000;               // broker.session.timeout.ms: the lease TTL in etcd
  bool unclean_leader_election = false;                   // unclean.leader.election.enable
  bool auto_leader_rebalance = true;                      // auto.leader.rebalance.enable
  int64_t leader_imbalance_check_interval_seconds = 300;  // leader.imbalance.check.interval.seconds
  // The log cleaner (cleanup.policy=compact): log.cleaner.enable,
  // log.cleaner.threads, log.cleaner.backoff.ms,
  // log.cleaner.dedupe.buffer.size (split between the threads),
  // log.cleaner.io.max.bytes.per.second (read and written, all threads).
  bool log_cleaner_enable = true;
  int32_t log_cleaner_threads = 1;
  int64_t log_cleaner_backoff_ms = 15000;
  int64_t log_cleaner_dedupe_buffer_size = 128LL << 20;
  double log_cleaner_io_max_bytes_per_second = std::numeric_limits<double>::max();
  bool clustered() const { return !etcd_endpoints.empty(); }
  // The listener other brokers reach this one on (inter.broker.listener.name).
  const ListenerConfig& inter_broker_listener() const;
  // A listener's ssl.* settings: its own listener.name.<name>.ssl.* over
  // the shared ssl.* ones (as resolved), else the shared ones.
  const TlsConfig& tls_of(const std::string& listener_name) const;
  // The inter-broker listener's name as configured (inter.broker.listener.name,
  // else security.inter.broker.protocol, else PLAINTEXT).
  std::string inter_broker_listener_wanted() const;
  // The login for the other brokers' inter-broker listener: nullopt when that
  // listener does not use SASL. Throws ConfigError when it does and the JAAS
  // line for its mechanism is missing or has no username and password.
  std::optional<InterBrokerSasl> inter_broker_sasl() const;
  storage::LogConfig log;  // log.segment.bytes, log.retention.*, ...

  // The effective limits: the configured ones, or derived from RLIMIT_NOFILE.
  int64_t effective_max_open_files() const;
  int64_t effective_max_partitions() const;
  // The group.consumer.* timings a group's own values are checked against.
  GroupConfigBounds group_config_bounds() const;
};

}  // namespace runnel
