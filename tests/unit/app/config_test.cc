#include "app/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "config/topic_config.h"

namespace runnel {
namespace {

TEST(BrokerConfig, AppliesKafkaNames) {
  BrokerConfig c;
  set_config(c, "num.partitions", "3");
  set_config(c, "log.retention.hours", "2");
  set_config(c, "log.segment.bytes", "1048576");
  set_config(c, "auto.create.topics.enable", "false");
  set_config(c, "listeners", "PLAINTEXT://127.0.0.1:19092");
  set_config(c, "log.message.timestamp.type", "LogAppendTime");
  EXPECT_EQ(c.num_partitions, 3);
  EXPECT_EQ(c.log.retention_ms, 2 * 3600 * 1000);
  EXPECT_EQ(c.log.segment_bytes, 1048576);
  EXPECT_FALSE(c.auto_create_topics);
  resolve_listeners(c);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].host, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 19092);
  EXPECT_EQ(c.log.timestamp_type, storage::TimestampType::LogAppendTime);
  EXPECT_TRUE(c.controlled_shutdown);
  set_config(c, "num.replica.fetchers", "4");
  set_config(c, "controlled.shutdown.enable", "false");
  set_config(c, "producer.id.expiration.ms", "60000");
  EXPECT_EQ(c.log.producer_id_expiration_ms, 60000);
  EXPECT_EQ(c.num_replica_fetchers, 4);
  EXPECT_FALSE(c.controlled_shutdown);
  EXPECT_THROW(set_config(c, "num.replica.fetchers", "0"), ConfigError);
}

TEST(BrokerConfig, FlusherThreads) {
  BrokerConfig c;
  EXPECT_EQ(c.flush_threads, 8);
  set_config(c, "runnel.flush.threads", "16");
  EXPECT_EQ(c.flush_threads, 16);
  EXPECT_THROW(set_config(c, "runnel.flush.threads", "0"), ConfigError);
  EXPECT_THROW(set_config(c, "runnel.flush.threads", "257"), ConfigError);
}

TEST(BrokerConfig, PageCacheTail) {
  BrokerConfig c;
  EXPECT_EQ(c.log.page_cache_tail_bytes, 0);
  set_config(c, "runnel.page.cache.tail.bytes", "67108864");
  EXPECT_EQ(c.log.page_cache_tail_bytes, 64 << 20);
  EXPECT_THROW(set_config(c, "runnel.page.cache.tail.bytes", "-1"), ConfigError);
}

TEST(BrokerConfig, ResolvesListenersWithTheirProtocols) {
  BrokerConfig c;
  set_config(c, "listeners", "PLAINTEXT://127.0.0.1:9092, sasl_plaintext://:9093,INTERNAL://10.0.0.1:9094");
  set_config(c, "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:SSL");
  set_config(c, "advertised.listeners", "SASL_PLAINTEXT://kafka.example:19093");
  set_config(c, "inter.broker.listener.name", "plaintext");
  set_config(c, "ssl.keystore.location", "/x.pem");
  resolve_listeners(c);
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[1].name, "SASL_PLAINTEXT");
  EXPECT_EQ(c.listeners[1].protocol, SecurityProtocol::kSaslPlaintext);
  EXPECT_EQ(c.listeners[1].host, "0.0.0.0");
  EXPECT_EQ(c.listeners[1].advertised_host, "kafka.example");
  EXPECT_EQ(c.listeners[1].advertised_port, 19093);
  EXPECT_EQ(c.listeners[2].protocol, SecurityProtocol::kSsl);
  EXPECT_EQ(c.inter_broker_listener().name, "PLAINTEXT");
  validate_config(c);
  // --listen moves the PLAINTEXT listener; --advertise the inter-broker one's address.
  resolve_listeners(c, "127.0.0.1:1234", "broker1:4321");
  EXPECT_EQ(c.listeners[0].port, 1234);
  EXPECT_EQ(c.listeners[0].advertised_host, "broker1");
  EXPECT_EQ(c.listeners.size(), 3u);

  BrokerConfig unmapped;
  set_config(unmapped, "listeners", "CUSTOM://127.0.0.1:9092");
  EXPECT_THROW(resolve_listeners(unmapped), ConfigError);
  BrokerConfig tls_without_keystore;
  set_config(tls_without_keystore, "listeners", "SSL://127.0.0.1:9093");
  resolve_listeners(tls_without_keystore);
  EXPECT_THROW(validate_config(tls_without_keystore), ConfigError);
  EXPECT_THROW(set_config(c, "listeners", "127.0.0.1:9092"), ConfigError);
  EXPECT_THROW(set_config(c, "sasl.enabled.mechanisms", "GSSAPI"), ConfigError);
  EXPECT_THROW(set_config(c, "ssl.client.auth", "maybe"), ConfigError);
  EXPECT_THROW(set_config(c, "ssl.enabled.protocols", "TLSv1.1"), ConfigError);
}

TEST(BrokerConfig, AdminListenWithItsScheme) {
  auto plain = parse_admin_listen("127.0.0.1:9644");
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.host, "127.0.0.1");
  EXPECT_EQ(plain.port, 9644);
  EXPECT_FALSE(parse_admin_listen("http://0.0.0.0:80/").tls);
  auto tls = parse_admin_listen("https://[::1]:9645");
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.host, "::1");
  EXPECT_EQ(tls.port, 9645);
  EXPECT_THROW(parse_admin_listen("ftp://127.0.0.1:21"), ConfigError);
  EXPECT_THROW(parse_admin_listen("https://127.0.0.1"), ConfigError);
  // https needs the keystore it presents.
  BrokerConfig c;
  resolve_listeners(c);
  set_config(c, "runnel.admin.listen", "https://127.0.0.1:9645");
  EXPECT_THROW(validate_config(c), ConfigError);
  set_config(c, "ssl.keystore.location", "/etc/runnel/keystore.pem");
  EXPECT_NO_THROW(validate_config(c));
}

TEST(BrokerConfig, InterBrokerSaslLogin) {
  BrokerConfig c;
  set_config(c, "listeners", "SASL_PLAINTEXT://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092");
  set_config(c, "runnel.etcd.endpoints", "http://127.0.0.1:2379");
  set_config(c, "security.inter.broker.protocol", "sasl_plaintext");
  set_config(c, "sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512");
  resolve_listeners(c);
  EXPECT_EQ(c.inter_broker_listener().name, "SASL_PLAINTEXT");
  EXPECT_THROW(validate_config(c), ConfigError);  // no JAAS line for the login
  set_config(c, "listener.name.SASL_PLAINTEXT.scram-sha-512.sasl.jaas.config",
             "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" "
             "password=\"p\\\"w;d\";");
  validate_config(c);
  auto login = c.inter_broker_sasl();
  ASSERT_TRUE(login);
  EXPECT_EQ(login->mechanism, "SCRAM-SHA-512");
  EXPECT_EQ(login->username, "broker");
  EXPECT_EQ(login->password, "p\"w;d");
  // Kafka refuses both names at once, and the mechanism must be enabled.
  set_config(c, "inter.broker.listener.name", "SASL_PLAINTEXT");
  EXPECT_THROW(validate_config(c), ConfigError);
  c.inter_broker_listener_name.clear();
  set_config(c, "sasl.enabled.mechanisms", "PLAIN");
  EXPECT_THROW(validate_config(c), ConfigError);
  EXPECT_THROW(set_config(c, "listener.name.x.plain.sasl.jaas.config", "Module required username=\"u"), ConfigError);
  EXPECT_THROW(set_config(c, "security.inter.broker.protocol", "TLS"), ConfigError);
  EXPECT_THROW(set_config(c, "sasl.mechanism.inter.broker.protocol", "GSSAPI"), ConfigError);
}

// Returns validate_config's message, or "" when it accepts the config.
std::string validation_error(const BrokerConfig& c) {
  try {
    validate_config(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(BrokerConfig, InterBrokerTls) {
  // An SSL inter-broker listener: the brokers verify each other against the
  // truststore, so there must be one.
  BrokerConfig c;
  set_config(c, "listeners", "SSL://127.0.0.1:9093");
  set_config(c, "security.inter.broker.protocol", "SSL");
  set_config(c, "ssl.keystore.location", "/x.pem");
  set_config(c, "runnel.etcd.endpoints", "http://127.0.0.1:2379");
  resolve_listeners(c);
  EXPECT_EQ(c.inter_broker_listener().protocol, SecurityProtocol::kSsl);
  EXPECT_NE(validation_error(c).find("set ssl.truststore.location"), std::string::npos) << validation_error(c);
  set_config(c, "ssl.truststore.location", "/ca.pem");
  EXPECT_EQ(validation_error(c), "");
  // A single node has no inter-broker connections: no truststore needed.
  BrokerConfig single = c;
  single.etcd_endpoints.clear();
  single.tls.truststore_location.clear();
  EXPECT_EQ(validation_error(single), "");

  // SASL_SSL: TLS, then the SASL login, which must be configured too.
  BrokerConfig sasl_ssl;
  set_config(sasl_ssl, "listeners", "SASL_SSL://127.0.0.1:9095");
  set_config(sasl_ssl, "security.inter.broker.protocol", "SASL_SSL");
  set_config(sasl_ssl, "ssl.keystore.location", "/x.pem");
  set_config(sasl_ssl, "ssl.truststore.location", "/ca.pem");
  set_config(sasl_ssl, "runnel.etcd.endpoints", "http://127.0.0.1:2379");
  resolve_listeners(sasl_ssl);
  EXPECT_NE(validation_error(sasl_ssl).find("sasl.jaas.config"), std::string::npos);
  set_config(sasl_ssl, "listener.name.sasl_ssl.plain.sasl.jaas.config",
             "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"broker\" password=\"p\";");
  EXPECT_EQ(validation_error(sasl_ssl), "");
  ASSERT_TRUE(sasl_ssl.inter_broker_sasl().has_value());
  EXPECT_EQ(sasl_ssl.inter_broker_sasl()->username, "broker");

  // ssl.endpoint.identification.algorithm: https (Kafka's default, any case) or empty.
  EXPECT_EQ(c.tls.endpoint_identification_algorithm, "https");
  set_config(c, "ssl.endpoint.identification.algorithm", "HTTPS");
  EXPECT_EQ(c.tls.endpoint_identification_algorithm, "https");
  set_config(c, "ssl.endpoint.identification.algorithm", "");
  EXPECT_EQ(c.tls.endpoint_identification_algorithm, "");
  EXPECT_THROW(set_config(c, "ssl.endpoint.identification.algorithm", "ldaps"), ConfigError);
}

TEST(BrokerConfig, PerListenerTlsSettings) {
  // listener.name.<name>.ssl.*: read in any order, folded over ssl.* once
  // the listeners are resolved; the inter-broker client uses its listener's.
  BrokerConfig c;
  set_config(c, "listener.name.internal.ssl.client.auth", "required");
  set_config(c, "listener.name.INTERNAL.ssl.truststore.location", "/internal-ca.pem");
  set_config(c, "listeners", "EXTERNAL://127.0.0.1:9093,INTERNAL://127.0.0.1:9094");
  set_config(c, "listener.security.protocol.map", "EXTERNAL:SSL,INTERNAL:SSL");
  set_config(c, "inter.broker.listener.name", "INTERNAL");
  set_config(c, "ssl.keystore.location", "/x.pem");
  resolve_listeners(c);
  EXPECT_EQ(c.tls_of("EXTERNAL").client_auth, "none");
  EXPECT_EQ(c.tls_of("INTERNAL").client_auth, "required");
  EXPECT_EQ(c.tls_of("INTERNAL").truststore_location, "/internal-ca.pem");
  EXPECT_EQ(c.tls_of("INTERNAL").keystore_location, "/x.pem");
  set_config(c, "runnel.etcd.endpoints", "http://127.0.0.1:2379");
  EXPECT_EQ(validation_error(c), "");

  // The value is checked when read, naming the key as written.
  try {
    set_config(c, "listener.name.internal.ssl.client.auth", "sometimes");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("listener.name.internal.ssl.client.auth"), std::string::npos) << e.what();
  }
  EXPECT_THROW(set_config(c, "listener.name.internal.ssl.no.such.key", "x"), ConfigError);
  BrokerConfig missing = c;
  set_config(missing, "listener.name.other.ssl.client.auth", "required");
  EXPECT_THROW(resolve_listeners(missing), ConfigError);

  // Store types: PEM, PKCS12 and JKS (Kafka's default), in any case; JCEKS and others are refused.
  set_config(c, "ssl.keystore.type", "pkcs12");
  EXPECT_EQ(c.tls.keystore_type, "PKCS12");
  set_config(c, "ssl.truststore.type", "jks");
  EXPECT_EQ(c.tls.truststore_type, "JKS");
  EXPECT_THROW(set_config(c, "ssl.truststore.type", "JCEKS"), ConfigError);
}

TEST(BrokerConfig, TakesKafkasOwnServerPropertiesWithoutUseForTheirControllerAndThreadSettings) {
  // Kafka's config/kraft/server.properties, as shipped (combined mode).
  BrokerConfig c;
  const std::vector<std::pair<std::string, std::string>> kafka = {
      {"process.roles", "broker,controller"},
      {"node.id", "1"},
      {"controller.quorum.voters", "1@localhost:9093"},
      {"listeners", "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"},
      {"inter.broker.listener.name", "PLAINTEXT"},
      {"advertised.listeners", "PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093"},
      {"controller.listener.names", "controller"},
      {"listener.security.protocol.map",
       "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"},
      {"num.network.threads", "3"},
      {"num.io.threads", "8"},
      {"socket.send.buffer.bytes", "102400"},
      {"socket.receive.buffer.bytes", "102400"},
      {"socket.request.max.bytes", "104857600"},
      {"log.dirs", "/tmp/kraft-combined-logs"},
      {"num.partitions", "1"},
      {"num.recovery.threads.per.data.dir", "1"},
      {"offsets.topic.replication.factor", "1"},
      {"transaction.state.log.replication.factor", "1"},
      {"transaction.state.log.min.isr", "1"},
      {"share.coordinator.state.topic.replication.factor", "1"},
      {"share.coordinator.state.topic.min.isr", "1"},
      {"log.retention.hours", "168"},
      {"log.segment.bytes", "1073741824"},
      {"log.retention.check.interval.ms", "300000"},
  };
  for (const auto& [key, value] : kafka) set_config(c, key, value);
  EXPECT_EQ(c.unused_kafka_settings.size(), 9u);
  EXPECT_NE(std::find(c.unused_kafka_settings.begin(), c.unused_kafka_settings.end(), "process.roles"),
            c.unused_kafka_settings.end());
  resolve_listeners(c);
  // The controller listener is neither opened nor advertised.
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].name, "PLAINTEXT");
  EXPECT_EQ(c.listeners[0].port, 19092);
  EXPECT_EQ(c.listeners[0].advertised_host, "localhost");
  validate_config(c);
  // A misspelt Kafka setting is still an error.
  EXPECT_THROW(set_config(c, "num.io.thread", "8"), ConfigError);
}

TEST(BrokerConfig, RefusesUnknownKeysAndBadValuesNamingTheKey) {
  BrokerConfig c;
  try {
    set_config(c, "num.partitionz", "3");
    FAIL() << "unknown key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("num.partitionz"), std::string::npos);
  }
  try {
    set_config(c, "num.partitions", "three");
    FAIL() << "bad value accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("num.partitions"), std::string::npos);
  }
  EXPECT_THROW(set_config(c, "num.partitions", "0"), ConfigError);
  EXPECT_THROW(set_config(c, "auto.create.topics.enable", "yes"), ConfigError);
  EXPECT_THROW(set_config(c, "default.replication.factor", "0"), ConfigError);
  EXPECT_THROW(set_config(c, "min.insync.replicas", "0"), ConfigError);
}

TEST(BrokerConfig, QueuedMaxRequestBytesAtLeastOneRequest) {
  BrokerConfig c;
  resolve_listeners(c);
  EXPECT_EQ(c.queued_max_request_bytes, -1);  // Kafka's default: no limit
  validate_config(c);
  set_config(c, "queued.max.request.bytes", "104857599");  // under socket.request.max.bytes
  EXPECT_THROW(validate_config(c), ConfigError);
  set_config(c, "queued.max.request.bytes", "104857600");
  validate_config(c);
  EXPECT_EQ(c.queued_max_request_bytes, 104857600);
  set_config(c, "queued.max.request.bytes", "0");  // as -1
  validate_config(c);
}

TEST(BrokerConfig, ConsumerGroupProtocolSettings) {
  BrokerConfig c;
  EXPECT_EQ(c.group_consumer_heartbeat_interval_ms, 5000);
  EXPECT_EQ(c.group_consumer_session_timeout_ms, 45000);
  EXPECT_EQ(c.group_consumer_assignors, (std::vector<std::string>{"uniform", "range"}));
  set_config(c, "group.consumer.heartbeat.interval.ms", "500");
  set_config(c, "group.consumer.session.timeout.ms", "10000");
  set_config(c, "group.consumer.assignors", "range, org.apache.kafka.coordinator.group.assignor.UniformAssignor");
  EXPECT_EQ(c.group_consumer_heartbeat_interval_ms, 500);
  EXPECT_EQ(c.group_consumer_session_timeout_ms, 10000);
  EXPECT_EQ(c.group_consumer_assignors, (std::vector<std::string>{"range", "uniform"}));
  EXPECT_THROW(set_config(c, "group.consumer.assignors", "sticky"), ConfigError);
  EXPECT_THROW(set_config(c, "group.consumer.assignors", " , "), ConfigError);
  EXPECT_THROW(set_config(c, "group.consumer.heartbeat.interval.ms", "0"), ConfigError);
  // Kafka's bounds (45-60 s, 5-15 s) refuse those two at start-up until lowered.
  EXPECT_THROW(validate_config(c), ConfigError);
  set_config(c, "group.consumer.min.session.timeout.ms", "1000");
  set_config(c, "group.consumer.min.heartbeat.interval.ms", "100");
  EXPECT_NO_THROW(validate_config(c));
  EXPECT_EQ(c.group_config_bounds().min_session_timeout_ms, 1000);
  EXPECT_EQ(c.group_config_bounds().max_heartbeat_interval_ms, 15000);
}

TEST(BrokerConfig, GroupSizeLimits) {
  BrokerConfig c;
  // Kafka's defaults: Integer.MAX_VALUE, no limit.
  EXPECT_EQ(c.group_max_size, 2147483647);
  EXPECT_EQ(c.group_consumer_max_size, 2147483647);
  set_config(c, "group.max.size", "2");
  set_config(c, "group.consumer.max.size", "1");
  EXPECT_EQ(c.group_max_size, 2);
  EXPECT_EQ(c.group_consumer_max_size, 1);
  // atLeast(1), as Kafka; the two are independent of each other.
  EXPECT_THROW(set_config(c, "group.max.size", "0"), ConfigError);
  EXPECT_THROW(set_config(c, "group.consumer.max.size", "-1"), ConfigError);
  EXPECT_THROW(set_config(c, "group.consumer.max.size", "2147483648"), ConfigError);
  EXPECT_THROW(set_config(c, "group.classic.max.size", "2"), ConfigError);  // not one of Kafka's names
  auto keys = known_config_keys();
  EXPECT_NE(std::find(keys.begin(), keys.end(), "group.max.size"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "group.consumer.max.size"), keys.end());
}

TEST(BrokerConfig, ConsumerGroupMigrationPolicy) {
  BrokerConfig c;
  EXPECT_EQ(c.group_consumer_migration_policy, "bidirectional");  // Kafka 4's default
  set_config(c, "group.consumer.migration.policy", " Upgrade ");
  EXPECT_EQ(c.group_consumer_migration_policy, "upgrade");
  set_config(c, "group.consumer.migration.policy", "DISABLED");
  EXPECT_EQ(c.group_consumer_migration_policy, "disabled");
  EXPECT_THROW(set_config(c, "group.consumer.migration.policy", "sideways"), ConfigError);
}

TEST(BrokerConfig, LogDirsListsEveryDirectoryAndRefusesOverlaps) {
  BrokerConfig c;
  resolve_listeners(c);
  set_config(c, "log.dirs", " /d/a , /d/b,,/d/c ");
  EXPECT_EQ(c.log_dirs(), (std::vector<std::string>{"/d/a", "/d/b", "/d/c"}));
  validate_config(c);
  set_config(c, "log.dir", "/d/x");
  EXPECT_EQ(c.log_dirs(), std::vector<std::string>{"/d/x"});
  for (const char* bad : {"/d/a,/d/a/", "/d/a,/d/b,/d/a", "/d/a,/d/a/b", "/d/a/b,/d/a"}) {
    set_config(c, "log.dirs", bad);
    EXPECT_THROW(validate_config(c), ConfigError) << bad;
  }
  set_config(c, "log.dirs", " , ");
  EXPECT_THROW(validate_config(c), ConfigError);
  set_config(c, "log.dirs", "/d/ab,/d/a");  // a common prefix is not nesting
  validate_config(c);
}

TEST(BrokerConfig, ReadsPropertiesFile) {
  std::string path = ::testing::TempDir() + "/server.properties";
  std::ofstream(path) << "# comment\n! other comment\n\nnum.partitions = 5\nlog.dirs=/tmp/a,/tmp/b\n";
  BrokerConfig c;
  load_config_file(c, path);
  EXPECT_EQ(c.num_partitions, 5);
  EXPECT_EQ(c.data_dir, "/tmp/a");
  EXPECT_EQ(c.extra_log_dirs, std::vector<std::string>{"/tmp/b"});
  std::ofstream(path) << "bogus.key=1\n";
  EXPECT_THROW(load_config_file(c, path), ConfigError);
  std::remove(path.c_str());
}

TEST(TopicConfig, OverlaysDefaultsAndValidates) {
  storage::LogConfig defaults;
  auto c = topic_log_config(defaults, {{"retention.ms", "1000"}, {"max.message.bytes", "100"}});
  EXPECT_EQ(c.retention_ms, 1000);
  EXPECT_EQ(c.max_message_bytes, 100);
  EXPECT_EQ(c.segment_bytes, defaults.segment_bytes);
  EXPECT_THROW(topic_log_config(defaults, {{"retention.mss", "1"}}), ConfigError);
  EXPECT_THROW(topic_log_config(defaults, {{"segment.bytes", "-5"}}), ConfigError);
}

TEST(TopicConfig, TimestampWindows) {
  // Kafka 4.0 defaults: any age, at most an hour ahead.
  BrokerConfig broker;
  EXPECT_EQ(broker.log.effective_timestamp_before_max_ms(), INT64_MAX);
  EXPECT_EQ(broker.log.effective_timestamp_after_max_ms(), 3600 * 1000);
  set_config(broker, "log.message.timestamp.after.max.ms", "5000");
  set_config(broker, "log.message.timestamp.difference.max.ms", "7000");  // fills only what is not set
  EXPECT_EQ(broker.log.effective_timestamp_before_max_ms(), 7000);
  EXPECT_EQ(broker.log.effective_timestamp_after_max_ms(), 5000);
  EXPECT_THROW(set_config(broker, "log.message.timestamp.before.max.ms", "-1"), ConfigError);
  // Topic overrides on top of the broker's.
  auto c = topic_log_config(broker.log, {{"message.timestamp.before.max.ms", "100"}});
  EXPECT_EQ(c.effective_timestamp_before_max_ms(), 100);
  EXPECT_EQ(c.effective_timestamp_after_max_ms(), 5000);
  c = topic_log_config(storage::LogConfig{}, {{"message.timestamp.difference.max.ms", "60000"}});
  EXPECT_EQ(c.effective_timestamp_before_max_ms(), 60000);
  EXPECT_EQ(c.effective_timestamp_after_max_ms(), 60000);
  // DescribeConfigs shows the effective values under Kafka's names.
  auto listed = topic_config_defaults(c);
  auto find = [&](const std::string& name) {
    for (const auto& [k, v] : listed)
      if (k == name) return v;
    return std::string("missing");
  };
  EXPECT_EQ(find("message.timestamp.before.max.ms"), "60000");
  EXPECT_EQ(find("message.timestamp.after.max.ms"), "60000");
}

}  // namespace
}  // namespace runnel
