#include "app/config.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include "base/paths.h"
#include "cluster/etcd/client.h"
#include "config/connection_quota_config.h"
#include "config/jaas.h"
#include "config/parse.h"
#include "security/ssl_principal_mapper.h"

namespace runnel {
namespace {

using config::parse_bool;
using config::parse_cleanup_policy;
using config::parse_compression_type;
using config::parse_double;
using config::parse_int;
using config::parse_timestamp_type;
using config::trim;

// group.consumer.migration.policy: Kafka's four values, any case.
std::string parse_migration_policy(const std::string& key, const std::string& value) {
  std::string v;
  for (char c : trim(value)) v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v != "disabled" && v != "upgrade" && v != "downgrade" && v != "bidirectional")
    throw ConfigError(
        fmt::format("invalid value '{}' for {}: one of disabled, upgrade, downgrade, bidirectional", value, key));
  return v;
}

// group.consumer.assignors: a comma-separated list of server-side assignors,
// by short name or by Kafka's class name.
std::vector<std::string> parse_assignors(const std::string& key, const std::string& value) {
  std::vector<std::string> out;
  std::string rest = value;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string name = trim(rest.substr(0, comma));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    if (name.empty()) continue;
    if (name == "org.apache.kafka.coordinator.group.assignor.UniformAssignor") name = "uniform";
    if (name == "org.apache.kafka.coordinator.group.assignor.RangeAssignor") name = "range";
    if (name != "uniform" && name != "range")
      throw ConfigError(fmt::format("invalid value '{}' for {}: assignors are uniform and range", value, key));
    out.push_back(name);
  }
  if (out.empty()) throw ConfigError(fmt::format("invalid value '{}' for {}: no assignor", value, key));
  return out;
}

// Splits a comma-separated list, trimming each item and dropping empty ones.
std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    std::string item = trim(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::pair<std::string, uint16_t> parse_host_port(const std::string& key, const std::string& value) {
  std::string s = trim(value);
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    throw ConfigError(fmt::format("invalid value '{}' for {}: expected host:port", value, key));
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port = parse_int(key, s.substr(colon + 1), 0, 65535);
  return {host, static_cast<uint16_t>(port)};
}

AdminListen parse_admin_listen(const std::string& value) {
  constexpr std::string_view kKey = "runnel.admin.listen";
  std::string s = trim(value);
  AdminListen out;
  if (s.rfind("https://", 0) == 0) {
    out.tls = true;
    s = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    s = s.substr(7);
  } else if (s.find("://") != std::string::npos) {
    throw ConfigError(fmt::format("invalid value '{}' for {}: the scheme must be http or https", value, kKey));
  }
  if (!s.empty() && s.back() == '/') s.pop_back();
  std::tie(out.host, out.port) = parse_host_port(std::string(kKey), s);
  return out;
}

namespace {

// quota.window.num / quota.window.size.seconds: runnel's quotas are measured
// over Kafka's default windows (base/quota_rate.h); another value is refused
// rather than taken without effect.
void require_kafka_quota_window(const std::string& key, const std::string& value, int64_t kafka_default) {
  if (parse_int(key, value, 1, INT32_MAX) != kafka_default)
    throw ConfigError(
        fmt::format("{}={}: runnel measures quotas over Kafka's default windows (quota.window.num=11, "
                    "quota.window.size.seconds=1); other values are not supported",
                    key, value));
}

struct ListenerUrl {
  std::string name;
  std::string host;
  uint16_t port;
};

// NAME://host:port,... (Kafka's listeners and advertised.listeners syntax).
std::vector<ListenerUrl> parse_listener_urls(const std::string& key, const std::string& value) {
  std::vector<ListenerUrl> out;
  for (const auto& item : split_list(value)) {
    auto scheme = item.find("://");
    if (scheme == std::string::npos || scheme == 0)
      throw ConfigError(fmt::format("invalid value '{}' for {}: expected NAME://host:port", item, key));
    std::string name = item.substr(0, scheme);
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    auto [host, port] = parse_host_port(key, item.substr(scheme + 3));
    for (const auto& l : out)
      if (l.name == name)
        throw ConfigError(fmt::format("invalid value '{}' for {}: listener name {} appears twice", value, key, name));
    out.push_back({name, host, port});
  }
  return out;
}

std::map<std::string, SecurityProtocol> parse_protocol_map(const std::string& key, const std::string& value) {
  std::map<std::string, SecurityProtocol> out;
  for (const auto& item : split_list(value)) {
    auto colon = item.find(':');
    auto protocol = colon == std::string::npos ? std::nullopt : parse_security_protocol(trim(item.substr(colon + 1)));
    if (!protocol || colon == 0)
      throw ConfigError(fmt::format(
          "invalid value '{}' for {}: expected NAME:PROTOCOL with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", item,
          key));
    std::string name = trim(item.substr(0, colon));
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out[name] = *protocol;
  }
  return out;
}

std::vector<std::string> parse_mechanisms(const std::string& key, const std::string& value) {
  auto out = split_list(value);
  for (const auto& m : out)
    if (m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512")
      throw ConfigError(
          fmt::format("invalid value '{}' for {}: {} is not supported (PLAIN, SCRAM-SHA-256, "
                      "SCRAM-SHA-512 are)",
                      value, key, m));
  return out;
}

// super.users: "User:admin;User:broker", each a principal of the form
// Type:name, as Kafka's StandardAuthorizer reads it.
std::vector<std::string> parse_super_users(const std::string& key, const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(';', start);
    if (end == std::string::npos) end = value.size();
    auto p = trim(value.substr(start, end - start));
    start = end + 1;
    if (p.empty()) continue;
    auto colon = p.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == p.size())
      throw ConfigError(
          fmt::format("invalid value '{}' for {}: {} is not a principal of the form User:name", value, key, p));
    out.push_back(p);
  }
  return out;
}

// PEM text in one properties line: "\n" stands for a line break, as in a
// Java properties file.
std::string unescape_newlines(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += v[i];
    }
  }
  return out;
}

std::string one_of(const std::string& key, const std::string& value, std::initializer_list<const char*> allowed);

// ssl.keystore.type / ssl.truststore.type (security/keystore.h reads each).
std::string store_type(const std::string& key, const std::string& value) {
  return one_of(key, value, {"PEM", "PKCS12", "JKS"});
}

std::string one_of(const std::string& key, const std::string& value, std::initializer_list<const char*> allowed) {
  std::string v = trim(value);
  for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* a : allowed) {
    std::string lower = a;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (v == lower) return a;
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw ConfigError(fmt::format("invalid value '{}' for {}: expected one of {}", value, key, list));
}

using Setter = std::function<void(BrokerConfig&, const std::string& key, const std::string& value)>;

const std::map<std::string, Setter>& broker_setters() {
  constexpr int64_t kI32 = INT32_MAX;
  static const std::map<std::string, Setter> setters = {
      {"log.dirs",
       [](auto& c, auto&, auto& v) {
         c.data_dir.clear();
         c.extra_log_dirs.clear();
         for (size_t start = 0; start <= v.size();) {
           auto comma = std::min(v.find(',', start), v.size());
           auto dir = trim(v.substr(start, comma - start));
           if (!dir.empty()) (c.data_dir.empty() ? c.data_dir : c.extra_log_dirs.emplace_back()) = dir;
           start = comma + 1;
         }
       }},
      {"log.dir",
       [](auto& c, auto&, auto& v) {
         c.data_dir = trim(v);
         c.extra_log_dirs.clear();
       }},
      {"listeners",
       [](auto& c, auto& k, auto& v) {
         if (parse_listener_urls(k, v).empty()) throw ConfigError("listeners must name at least one listener");
         c.listeners_spec = v;
       }},
      {"advertised.listeners",
       [](auto& c, auto& k, auto& v) {
         parse_listener_urls(k, v);
         c.advertised_listeners_spec = v;
       }},
      {"listener.security.protocol.map",
       [](auto& c, auto& k, auto& v) {
         parse_protocol_map(k, v);
         c.protocol_map_spec = v;
       }},
      {"inter.broker.listener.name",
       [](auto& c, auto&, auto& v) {
         c.inter_broker_listener_name = trim(v);
         for (auto& ch : c.inter_broker_listener_name)
           ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
       }},
      {"security.inter.broker.protocol",
       [](auto& c, auto& k, auto& v) {
         auto name = trim(v);
         for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
         if (!parse_security_protocol(name))
           throw ConfigError(fmt::format(
               "invalid value '{}' for {}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", v, k));
         c.security_inter_broker_protocol = name;
       }},
      {"sasl.mechanism.inter.broker.protocol",
       [](auto& c, auto& k, auto& v) {
         auto m = parse_mechanisms(k, v);
         if (m.size() != 1) throw ConfigError(fmt::format("invalid value '{}' for {}: one mechanism", v, k));
         c.sasl_mechanism_inter_broker_protocol = m.front();
       }},
      {"authorizer.class.name",
       [](auto& c, auto& k, auto& v) {
         auto name = trim(v);
         if (!name.empty() && name != "org.apache.kafka.metadata.authorizer.StandardAuthorizer" &&
             name != "kafka.security.authorizer.AclAuthorizer")
           throw ConfigError(fmt::format(
               "{}={}: runnel's authorizer answers to org.apache.kafka.metadata.authorizer.StandardAuthorizer "
               "(or kafka.security.authorizer.AclAuthorizer); empty turns it off",
               k, name));
         c.authorizer_class_name = name;
       }},
      {"super.users", [](auto& c, auto& k, auto& v) { c.super_users = parse_super_users(k, v); }},
      {"allow.everyone.if.no.acl.found",
       [](auto& c, auto& k, auto& v) { c.allow_everyone_if_no_acl_found = parse_bool(k, v); }},
      {"sasl.enabled.mechanisms",
       [](auto& c, auto& k, auto& v) { c.sasl_enabled_mechanisms = parse_mechanisms(k, v); }},
      {"connections.max.reauth.ms",
       [](auto& c, auto& k, auto& v) { c.connections_max_reauth_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"connection.failed.authentication.delay.ms",
       [](auto& c, auto& k, auto& v) { c.failed_authentication_delay_ms = int32_t(parse_int(k, v, 0, 60000)); }},
      {"ssl.keystore.type", [](auto& c, auto& k, auto& v) { c.tls.keystore_type = store_type(k, v); }},
      {"ssl.keystore.password", [](auto& c, auto&, auto& v) { c.tls.keystore_password = v; }},
      {"ssl.keystore.location", [](auto& c, auto&, auto& v) { c.tls.keystore_location = trim(v); }},
      {"ssl.keystore.key", [](auto& c, auto&, auto& v) { c.tls.keystore_key = unescape_newlines(v); }},
      {"ssl.keystore.certificate.chain",
       [](auto& c, auto&, auto& v) { c.tls.keystore_certificate_chain = unescape_newlines(v); }},
      {"ssl.key.password", [](auto& c, auto&, auto& v) { c.tls.key_password = v; }},
      {"ssl.truststore.type", [](auto& c, auto& k, auto& v) { c.tls.truststore_type = store_type(k, v); }},
      {"ssl.truststore.password", [](auto& c, auto&, auto& v) { c.tls.truststore_password = v; }},
      {"ssl.truststore.location", [](auto& c, auto&, auto& v) { c.tls.truststore_location = trim(v); }},
      {"ssl.client.auth",
       [](auto& c, auto& k, auto& v) {
         c.tls.client_auth = one_of(k, v, {"none", "requested", "required"});
       }},
      {"ssl.enabled.protocols",
       [](auto& c, auto& k, auto& v) {
         c.tls.enabled_protocols.clear();
         for (const auto& p : split_list(v)) c.tls.enabled_protocols.push_back(one_of(k, p, {"TLSv1.2", "TLSv1.3"}));
         if (c.tls.enabled_protocols.empty()) throw ConfigError(k + " must name TLSv1.2 and/or TLSv1.3");
       }},
      {"ssl.cipher.suites", [](auto& c, auto&, auto& v) { c.tls.cipher_suites = split_list(v); }},
      {"ssl.principal.mapping.rules",
       [](auto& c, auto& k, auto& v) {
         try {
           (void)security::SslPrincipalMapper(v);  // refuses what Kafka refuses
         } catch (const std::invalid_argument& e) {
           throw ConfigError(fmt::format("invalid value '{}' for {}: {}", v, k, e.what()));
         }
         c.tls.principal_mapping_rules = v;
       }},
      {"runnel.ssl.reload.interval.ms",
       [](auto& c, auto& k, auto& v) { c.ssl_reload_interval_ms = parse_int(k, v, 0, 86400000); }},
      // Checked by this broker's connections to the others (inter-broker TLS).
      {"ssl.endpoint.identification.algorithm",
       [](auto& c, auto& k, auto& v) {
         std::string algorithm = trim(v);
         for (auto& ch : algorithm) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
         if (!algorithm.empty() && algorithm != "https")
           throw ConfigError(fmt::format("invalid value '{}' for {}: expected https or empty (no check)", v, k));
         c.tls.endpoint_identification_algorithm = algorithm;
       }},
      {"node.id", [](auto& c, auto& k, auto& v) { c.node_id = int32_t(parse_int(k, v, 0, kI32)); }},
      {"broker.id", [](auto& c, auto& k, auto& v) { c.node_id = int32_t(parse_int(k, v, 0, kI32)); }},
      {"num.partitions", [](auto& c, auto& k, auto& v) { c.num_partitions = int32_t(parse_int(k, v, 1, 100000)); }},
      {"default.replication.factor",
       [](auto& c, auto& k, auto& v) { c.default_replication_factor = int16_t(parse_int(k, v, 1, INT16_MAX)); }},
      {"offsets.topic.replication.factor",
       [](auto& c, auto& k, auto& v) { c.offsets_topic_replication_factor = int16_t(parse_int(k, v, 1, INT16_MAX)); }},
      {"min.insync.replicas",
       [](auto& c, auto& k, auto& v) { c.log.min_insync_replicas = int32_t(parse_int(k, v, 1, INT32_MAX)); }},
      {"replica.lag.time.max.ms",
       [](auto& c, auto& k, auto& v) { c.replica_lag_time_max_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"replica.fetch.wait.max.ms",
       [](auto& c, auto& k, auto& v) { c.replica_fetch_wait_max_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"replica.fetch.max.bytes",
       [](auto& c, auto& k, auto& v) { c.replica_fetch_max_bytes = int32_t(parse_int(k, v, 0, kI32)); }},
      {"num.replica.fetchers",
       [](auto& c, auto& k, auto& v) { c.num_replica_fetchers = int32_t(parse_int(k, v, 1, 64)); }},
      {"controlled.shutdown.enable", [](auto& c, auto& k, auto& v) { c.controlled_shutdown = parse_bool(k, v); }},
      {"auto.create.topics.enable", [](auto& c, auto& k, auto& v) { c.auto_create_topics = parse_bool(k, v); }},
      {"delete.topic.enable", [](auto& c, auto& k, auto& v) { c.delete_topic_enable = parse_bool(k, v); }},
      {"message.max.bytes",
       [](auto& c, auto& k, auto& v) {
         c.message_max_bytes = int32_t(parse_int(k, v, 0, kI32));
         c.log.max_message_bytes = c.message_max_bytes;
       }},
      {"socket.request.max.bytes",
       [](auto& c, auto& k, auto& v) { c.socket_request_max_bytes = int32_t(parse_int(k, v, 1, kI32)); }},
      {"connections.max.idle.ms",
       [](auto& c, auto& k, auto& v) { c.connections_max_idle_ms = parse_int(k, v, INT64_MIN, INT64_MAX); }},
      // The windows quotas are measured over (client and connection quotas):
      // fixed at Kafka's defaults, so that a file stating them starts.
      {"quota.window.num", [](auto&, auto& k, auto& v) { require_kafka_quota_window(k, v, 11); }},
      {"quota.window.size.seconds", [](auto&, auto& k, auto& v) { require_kafka_quota_window(k, v, 1); }},
      {"queued.max.request.bytes",
       [](auto& c, auto& k, auto& v) { c.queued_max_request_bytes = parse_int(k, v, INT64_MIN, INT64_MAX); }},
      {"log.segment.bytes", [](auto& c, auto& k, auto& v) { c.log.segment_bytes = parse_int(k, v, 14, kI32); }},
      {"log.roll.ms", [](auto& c, auto& k, auto& v) { c.log.segment_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"log.roll.hours", [](auto& c, auto& k, auto& v) { c.log.segment_ms = parse_int(k, v, 1, kI32) * 3600 * 1000; }},
      {"log.retention.ms", [](auto& c, auto& k, auto& v) { c.log.retention_ms = parse_int(k, v, -1, INT64_MAX); }},
      {"log.retention.minutes",
       [](auto& c, auto& k, auto& v) { c.log.retention_ms = parse_int(k, v, -1, kI32) * 60 * 1000; }},
      {"log.retention.hours",
       [](auto& c, auto& k, auto& v) { c.log.retention_ms = parse_int(k, v, -1, kI32) * 3600 * 1000; }},
      {"log.retention.bytes",
       [](auto& c, auto& k, auto& v) { c.log.retention_bytes = parse_int(k, v, -1, INT64_MAX); }},
      {"log.retention.check.interval.ms",
       [](auto& c, auto& k, auto& v) { c.retention_check_interval_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"log.roll.jitter.ms",
       [](auto& c, auto& k, auto& v) { c.log.segment_jitter_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.roll.jitter.hours",
       [](auto& c, auto& k, auto& v) { c.log.segment_jitter_ms = parse_int(k, v, 0, kI32) * 3600 * 1000; }},
      {"log.segment.delete.delay.ms",
       [](auto& c, auto& k, auto& v) { c.log.file_delete_delay_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.preallocate", [](auto& c, auto& k, auto& v) { c.log.preallocate = parse_bool(k, v); }},
      {"log.index.size.max.bytes",
       [](auto& c, auto& k, auto& v) { c.log.segment_index_bytes = int32_t(parse_int(k, v, 4, kI32)); }},
      {"log.flush.interval.messages",
       [](auto& c, auto& k, auto& v) { c.log.flush_messages = parse_int(k, v, 1, INT64_MAX); }},
      {"log.flush.interval.ms", [](auto& c, auto& k, auto& v) { c.log.flush_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.index.interval.bytes",
       [](auto& c, auto& k, auto& v) { c.log.index_interval_bytes = int32_t(parse_int(k, v, 0, kI32)); }},
      {"log.message.timestamp.type",
       [](auto& c, auto& k, auto& v) { c.log.timestamp_type = parse_timestamp_type(k, v); }},
      {"log.message.timestamp.before.max.ms",
       [](auto& c, auto& k, auto& v) { c.log.timestamp_before_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.message.timestamp.after.max.ms",
       [](auto& c, auto& k, auto& v) { c.log.timestamp_after_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      // Removed in Kafka 4.0; still read, for configurations written for 3.x.
      {"log.message.timestamp.difference.max.ms",
       [](auto& c, auto& k, auto& v) { c.log.timestamp_difference_max_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.cleanup.policy", [](auto& c, auto& k, auto& v) { parse_cleanup_policy(k, v, c.log); }},
      {"producer.id.expiration.ms",
       [](auto& c, auto& k, auto& v) { c.log.producer_id_expiration_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"compression.type", [](auto& c, auto& k, auto& v) { c.log.compression = parse_compression_type(k, v); }},
      {"compression.gzip.level",
       [](auto& c, auto& k, auto& v) { c.log.compression_gzip_level = int32_t(parse_int(k, v, -1, 9)); }},
      {"compression.lz4.level",
       [](auto& c, auto& k, auto& v) { c.log.compression_lz4_level = int32_t(parse_int(k, v, 1, 17)); }},
      {"compression.zstd.level",
       [](auto& c, auto& k, auto& v) { c.log.compression_zstd_level = int32_t(parse_int(k, v, -131072, 22)); }},
      {"offsets.topic.num.partitions",
       [](auto& c, auto& k, auto& v) { c.offsets_topic_num_partitions = int32_t(parse_int(k, v, 1, 10000)); }},
      {"offsets.topic.segment.bytes",
       [](auto& c, auto& k, auto& v) { c.offsets_topic_segment_bytes = parse_int(k, v, 14, kI32); }},
      {"offsets.retention.minutes",
       [](auto& c, auto& k, auto& v) { c.offsets_retention_ms = parse_int(k, v, 1, kI32) * 60 * 1000; }},
      {"runnel.offsets.retention.ms",
       [](auto& c, auto& k, auto& v) { c.offsets_retention_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"offsets.retention.check.interval.ms",
       [](auto& c, auto& k, auto& v) { c.offsets_retention_check_interval_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"runnel.offsets.compaction.min.records",
       [](auto& c, auto& k, auto& v) { c.offsets_compaction_min_records = parse_int(k, v, 1, INT64_MAX); }},
      {"transaction.state.log.num.partitions",
       [](auto& c, auto& k, auto& v) { c.transaction_state_log_num_partitions = int32_t(parse_int(k, v, 1, 10000)); }},
      {"transaction.state.log.replication.factor",
       [](auto& c, auto& k,
          auto& v) { c.transaction_state_log_replication_factor = int16_t(parse_int(k, v, 1, INT16_MAX)); }},
      {"transaction.state.log.min.isr",
       [](auto& c, auto& k, auto& v) { c.transaction_state_log_min_isr = int32_t(parse_int(k, v, 1, kI32)); }},
      {"transaction.state.log.segment.bytes",
       [](auto& c, auto& k, auto& v) { c.transaction_state_log_segment_bytes = parse_int(k, v, 14, kI32); }},
      {"transaction.max.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.transaction_max_timeout_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"transaction.abort.timed.out.transaction.cleanup.interval.ms",
       [](auto& c, auto& k, auto& v) { c.transaction_abort_timed_out_interval_ms = parse_int(k, v, 1, kI32); }},
      {"transactional.id.expiration.ms",
       [](auto& c, auto& k, auto& v) { c.transactional_id_expiration_ms = parse_int(k, v, 1, kI32); }},
      {"transaction.partition.verification.enable",
       [](auto& c, auto& k, auto& v) { c.transaction_partition_verification_enable = parse_bool(k, v); }},
      {"group.initial.rebalance.delay.ms",
       [](auto& c, auto& k, auto& v) { c.group_initial_rebalance_delay_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.min.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_min_session_timeout_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.max.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_max_session_timeout_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.max.size", [](auto& c, auto& k, auto& v) { c.group_max_size = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.max.size",
       [](auto& c, auto& k, auto& v) { c.group_consumer_max_size = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.heartbeat.interval.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_heartbeat_interval_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_session_timeout_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.min.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_min_session_timeout_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.max.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_max_session_timeout_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.min.heartbeat.interval.ms",
       [](auto& c, auto& k, auto& v) {
         c.group_consumer_min_heartbeat_interval_ms = int32_t(parse_int(k, v, 1, kI32));
       }},
      {"group.consumer.max.heartbeat.interval.ms",
       [](auto& c, auto& k, auto& v) {
         c.group_consumer_max_heartbeat_interval_ms = int32_t(parse_int(k, v, 1, kI32));
       }},
      {"group.consumer.assignors",
       [](auto& c, auto& k, auto& v) { c.group_consumer_assignors = parse_assignors(k, v); }},
      {"group.consumer.migration.policy",
       [](auto& c, auto& k, auto& v) { c.group_consumer_migration_policy = parse_migration_policy(k, v); }},
      {"runnel.shards", [](auto& c, auto& k, auto& v) { c.shards = int32_t(parse_int(k, v, 0, 256)); }},
      {"runnel.max.open.files", [](auto& c, auto& k, auto& v) { c.max_open_files = parse_int(k, v, 0, INT32_MAX); }},
      {"runnel.max.partitions", [](auto& c, auto& k, auto& v) { c.max_partitions = parse_int(k, v, 0, INT32_MAX); }},
      {"runnel.etcd.endpoints", [](auto& c, auto&, auto& v) { c.etcd_endpoints = trim(v); }},
      {"unclean.leader.election.enable",
       [](auto& c, auto& k, auto& v) { c.unclean_leader_election = c.log.unclean_leader_election = parse_bool(k, v); }},
      {"auto.leader.rebalance.enable", [](auto& c, auto& k, auto& v) { c.auto_leader_rebalance = parse_bool(k, v); }},
      {"leader.imbalance.check.interval.seconds",
       [](auto& c, auto& k, auto& v) { c.leader_imbalance_check_interval_seconds = parse_int(k, v, 1, INT32_MAX); }},
      {"broker.rack", [](auto& c, auto&, auto& v) { c.rack = trim(v); }},
      {"broker.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.broker_session_timeout_ms = parse_int(k, v, 1000, 3600000); }},
      {"runnel.idle.flush.ms", [](auto& c, auto& k, auto& v) { c.idle_flush_ms = parse_int(k, v, 1, INT32_MAX); }},
      {"runnel.flush.syncfs.min.requests",
       [](auto& c, auto& k, auto& v) { c.flush_syncfs_min_requests = parse_int(k, v, 0, INT32_MAX); }},
      {"runnel.page.cache.tail.bytes",
       [](auto& c, auto& k, auto& v) { c.log.page_cache_tail_bytes = parse_int(k, v, 0, INT64_MAX); }},
      {"runnel.flush.threads", [](auto& c, auto& k, auto& v) { c.flush_threads = parse_int(k, v, 1, 256); }},
      {"runnel.admin.listen", [](auto& c, auto&, auto& v) { c.admin_listen = trim(v); }},
      {"runnel.admin.authentication",
       [](auto& c, auto& k, auto& v) {
         std::string method = trim(v);
         if (method != "none" && method != "basic")
           throw ConfigError(fmt::format("invalid value '{}' for {}: none or basic", v, k));
         c.admin_basic_auth = method == "basic";
       }},
      // The log cleaner (cleanup.policy=compact) and the topic defaults it reads.
      {"log.cleaner.enable", [](auto& c, auto& k, auto& v) { c.log_cleaner_enable = parse_bool(k, v); }},
      {"log.cleaner.threads",
       [](auto& c, auto& k, auto& v) { c.log_cleaner_threads = int32_t(parse_int(k, v, 0, 64)); }},
      {"log.cleaner.backoff.ms",
       [](auto& c, auto& k, auto& v) { c.log_cleaner_backoff_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.cleaner.dedupe.buffer.size",
       [](auto& c, auto& k, auto& v) { c.log_cleaner_dedupe_buffer_size = parse_int(k, v, 0, INT64_MAX); }},
      {"log.cleaner.io.max.bytes.per.second",
       [](auto& c, auto& k,
          auto&
              v) { c.log_cleaner_io_max_bytes_per_second = parse_double(k, v, 0, std::numeric_limits<double>::max()); }},
      {"log.cleaner.min.cleanable.ratio",
       [](auto& c, auto& k, auto& v) { c.log.min_cleanable_dirty_ratio = parse_double(k, v, 0, 1); }},
      {"log.cleaner.min.compaction.lag.ms",
       [](auto& c, auto& k, auto& v) { c.log.min_compaction_lag_ms = parse_int(k, v, 0, INT64_MAX); }},
      {"log.cleaner.max.compaction.lag.ms",
       [](auto& c, auto& k, auto& v) { c.log.max_compaction_lag_ms = parse_int(k, v, 1, INT64_MAX); }},
      {"log.cleaner.delete.retention.ms",
       [](auto& c, auto& k, auto& v) { c.log.delete_retention_ms = parse_int(k, v, 0, INT64_MAX); }},
  };
  return setters;
}

}  // namespace

namespace {

// Kafka broker settings with no counterpart in runnel, and why. They are
// taken, with a warning, so that a Kafka server.properties (Kafka's own
// config/server.properties, KRaft or ZooKeeper) starts runnel unchanged, as
// Kafka itself warns of supplied settings it does not use; any other unknown
// key is still an error (a misspelt one must not pass silently).
const std::map<std::string, std::string_view, std::less<>>& kafka_settings_without_use() {
  static constexpr std::string_view kThreads =
      "runnel has no thread pools to size: each shard (runnel.shards, one per core) accepts, handles and recovers "
      "its own partitions and connections";
  static constexpr std::string_view kSockets = "runnel leaves socket buffer sizes to the kernel's autotuning";
  static constexpr std::string_view kZooKeeper = "runnel keeps cluster metadata in etcd (--etcd), never ZooKeeper";
  static constexpr std::string_view kKraft =
      "runnel has no KRaft controllers: etcd (--etcd) is its control plane and every runnel is a broker";
  static constexpr std::string_view kShare = "runnel has no share groups (KIP-932)";
  static constexpr std::string_view kQueue =
      "runnel has no request queue between threads: a connection holds at most 1,024 requests in flight, and "
      "queued.max.request.bytes caps their bytes broker-wide";
  static const std::map<std::string, std::string_view, std::less<>> settings = {
      {"background.threads", kThreads},
      {"num.io.threads", kThreads},
      {"num.network.threads", kThreads},
      {"num.recovery.threads.per.data.dir", kThreads},
      {"queued.max.requests", kQueue},
      {"socket.receive.buffer.bytes", kSockets},
      {"socket.send.buffer.bytes", kSockets},
      {"zookeeper.connect", kZooKeeper},
      {"zookeeper.connection.timeout.ms", kZooKeeper},
      {"zookeeper.session.timeout.ms", kZooKeeper},
      {"process.roles", kKraft},
      {"controller.quorum.voters", kKraft},
      {"controller.quorum.bootstrap.servers", kKraft},
      {"metadata.log.dir", kKraft},
      {"share.coordinator.state.topic.replication.factor", kShare},
      {"share.coordinator.state.topic.min.isr", kShare},
  };
  return settings;
}

// controller.listener.names as a set of upper-case names.
std::vector<std::string> controller_listener_names(const BrokerConfig& c) {
  std::vector<std::string> names;
  for (auto name : split_list(c.controller_listener_names_spec)) {
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

void set_config(BrokerConfig& c, const std::string& raw_key, const std::string& value) {
  std::string key = trim(raw_key);
  // listener.name.<listener>.<mechanism>.sasl.jaas.config: the login this
  // broker uses on that listener of the others (Kafka's per-listener form).
  constexpr std::string_view kPrefix = "listener.name.", kSuffix = ".sasl.jaas.config";
  if (key.starts_with(kPrefix) && key.ends_with(kSuffix) && key.size() > kPrefix.size() + kSuffix.size()) {
    std::string middle = key.substr(kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size());
    for (auto& ch : middle) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (middle.find('.') == std::string::npos)
      throw ConfigError(fmt::format("{}: expected listener.name.<listener>.<mechanism>.sasl.jaas.config", key));
    if (!parse_jaas_options(value))
      throw ConfigError(
          fmt::format("{}: not a JAAS configuration line (Module required username=\"...\" "
                      "password=\"...\";)",
                      key));
    c.listener_sasl_jaas[middle] = value;
    return;
  }
  // Connection quotas (max.connections, listener.name.<l>.max.connections,
  // ...): checked now, read by the broker's ConnectionQuotas.
  if (is_connection_quota_key(key)) {
    validate_connection_quota_value(key, value);
    c.connection_quota_static[key] = trim(value);
    return;
  }
  // listener.name.<listener>.ssl.*: that listener's own ssl.* setting. The
  // value is checked now (so the error names the key as written) and kept
  // to be folded over the shared ssl.* ones once every key is read.
  constexpr std::string_view kSslInfix = ".ssl.";
  if (key.starts_with(kPrefix)) {
    auto infix = key.find(kSslInfix, kPrefix.size());
    if (infix != std::string::npos && infix > kPrefix.size()) {
      std::string listener = key.substr(kPrefix.size(), infix - kPrefix.size());
      for (auto& ch : listener) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string ssl_key = key.substr(infix + 1);
      auto setter = broker_setters().find(ssl_key);
      if (listener.find('.') != std::string::npos || setter == broker_setters().end())
        throw ConfigError(fmt::format("unknown configuration key '{}'", key));
      BrokerConfig scratch;
      setter->second(scratch, key, value);
      c.listener_ssl[listener][ssl_key] = value;
      return;
    }
  }
  if (key == "controller.listener.names") {
    c.controller_listener_names_spec = trim(value);
    return;
  }
  if (auto unused = kafka_settings_without_use().find(key); unused != kafka_settings_without_use().end()) {
    spdlog::warn("{} is a Kafka setting without use here, ignored: {}", key, unused->second);
    if (std::find(c.unused_kafka_settings.begin(), c.unused_kafka_settings.end(), key) == c.unused_kafka_settings.end())
      c.unused_kafka_settings.push_back(key);
    return;
  }
  auto it = broker_setters().find(key);
  if (it == broker_setters().end()) throw ConfigError(fmt::format("unknown configuration key '{}'", key));
  it->second(c, key, value);
}

std::optional<std::vector<PropertyLine>> read_property_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<PropertyLine> lines;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos)
      lines.push_back({number, line, std::nullopt});
    else
      lines.push_back({number, trim(line.substr(0, eq)), trim(line.substr(eq + 1))});
  }
  return lines;
}

void load_config_file(BrokerConfig& c, const std::string& path) {
  auto lines = read_property_lines(path);
  if (!lines) throw ConfigError(fmt::format("cannot read config file '{}'", path));
  for (const auto& line : *lines) {
    if (!line.value) throw ConfigError(fmt::format("{}:{}: expected key=value, got '{}'", path, line.number, line.key));
    set_config(c, line.key, *line.value);
  }
}

void resolve_listeners(BrokerConfig& c, const std::string& listen_flag, const std::string& advertise_flag) {
  auto protocols = parse_protocol_map("listener.security.protocol.map", c.protocol_map_spec);
  auto urls = parse_listener_urls("listeners", c.listeners_spec);
  if (!listen_flag.empty()) {
    // --listen: the address of the PLAINTEXT listener (added when there is none).
    auto [host, port] = parse_host_port("--listen", listen_flag);
    auto it = std::find_if(urls.begin(), urls.end(), [](const auto& u) { return u.name == "PLAINTEXT"; });
    if (it != urls.end())
      *it = ListenerUrl{"PLAINTEXT", host, port};
    else
      urls.insert(urls.begin(), ListenerUrl{"PLAINTEXT", host, port});
    protocols.emplace("PLAINTEXT", SecurityProtocol::kPlaintext);
  }
  auto advertised = parse_listener_urls("advertised.listeners", c.advertised_listeners_spec);
  // Kafka's KRaft controller listeners: not opened, not advertised.
  const auto controllers = controller_listener_names(c);
  auto is_controller = [&controllers](const auto& u) {
    return std::find(controllers.begin(), controllers.end(), u.name) != controllers.end();
  };
  for (const auto& u : urls)
    if (is_controller(u))
      spdlog::warn("listener {} (controller.listener.names) is not opened: runnel has no KRaft controllers", u.name);
  urls.erase(std::remove_if(urls.begin(), urls.end(), is_controller), urls.end());
  advertised.erase(std::remove_if(advertised.begin(), advertised.end(), is_controller), advertised.end());
  c.listeners.clear();
  for (const auto& u : urls) {
    auto protocol = protocols.find(u.name);
    if (protocol == protocols.end())
      throw ConfigError(fmt::format("listener {} has no security protocol in listener.security.protocol.map", u.name));
    ListenerConfig l{u.name, protocol->second, u.host.empty() ? "0.0.0.0" : u.host, u.port, "", 0};
    for (const auto& a : advertised)
      if (a.name == u.name) std::tie(l.advertised_host, l.advertised_port) = std::tie(a.host, a.port);
    c.listeners.push_back(std::move(l));
  }
  for (const auto& a : advertised)
    if (std::none_of(c.listeners.begin(), c.listeners.end(), [&](const auto& l) { return l.name == a.name; }))
      throw ConfigError(fmt::format("advertised.listeners names {}, which is not in listeners", a.name));
  if (!advertise_flag.empty()) {
    // --advertise: the inter-broker (first) listener's advertised address.
    auto [host, port] = parse_host_port("--advertise", advertise_flag);
    for (auto& l : c.listeners)
      if (&l == &c.inter_broker_listener()) std::tie(l.advertised_host, l.advertised_port) = std::tie(host, port);
  }
  // Each TLS listener's ssl.* settings: the shared ones, then its own.
  c.listener_tls.clear();
  for (const auto& [name, settings] : c.listener_ssl) {
    auto l = std::find_if(c.listeners.begin(), c.listeners.end(), [&](const auto& l) {
      std::string lower = l.name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return lower == name;
    });
    if (l == c.listeners.end())
      throw ConfigError(
          fmt::format("listener.name.{}.{}: listeners has no listener named {}", name, settings.begin()->first, name));
    if (!uses_tls(l->protocol))
      throw ConfigError(fmt::format("listener.name.{}.{}: listener {} uses {}, not TLS", name, settings.begin()->first,
                                    l->name, security_protocol_name(l->protocol)));
    BrokerConfig scratch;
    scratch.tls = c.tls;
    for (const auto& [key, value] : settings) broker_setters().at(key)(scratch, key, value);
    c.listener_tls[l->name] = scratch.tls;
  }
  for (size_t i = 0; i < c.listeners.size(); ++i)
    for (size_t j = i + 1; j < c.listeners.size(); ++j)
      if (c.listeners[i].port != 0 && c.listeners[i].port == c.listeners[j].port &&
          c.listeners[i].host == c.listeners[j].host)
        throw ConfigError(fmt::format("listeners {} and {} use the same address {}:{}", c.listeners[i].name,
                                      c.listeners[j].name, c.listeners[i].host, c.listeners[i].port));
}

namespace {

// Kafka refuses a directory listed twice; runnel also one inside another
// (its partitions' directories would be listed as the outer one's).
void validate_log_dirs(const std::vector<std::string>& dirs) {
  std::vector<std::filesystem::path> seen;
  for (const auto& d : dirs) {
    const auto path = normal_directory(d);
    for (const auto& other : seen) {
      if (other == path) throw ConfigError("Duplicate log directory found: " + d);
      auto [a, b] = std::mismatch(other.begin(), other.end(), path.begin(), path.end());
      if (a == other.end() || b == path.end())
        throw ConfigError("log.dirs: " + other.string() + " and " + path.string() + " contain one another");
    }
    seen.push_back(path);
  }
}

}  // namespace

void validate_config(const BrokerConfig& c) {
  if (!c.inter_broker_listener_name.empty() && std::none_of(c.listeners.begin(), c.listeners.end(), [&](const auto& l) {
        return l.name == c.inter_broker_listener_name;
      }))
    throw ConfigError(fmt::format("inter.broker.listener.name {} is not in listeners", c.inter_broker_listener_name));
  if (!c.inter_broker_listener_name.empty() && !c.security_inter_broker_protocol.empty())
    throw ConfigError("only one of inter.broker.listener.name and security.inter.broker.protocol may be set");
  if (!c.security_inter_broker_protocol.empty() &&
      std::none_of(c.listeners.begin(), c.listeners.end(),
                   [&](const auto& l) { return l.name == c.security_inter_broker_protocol; }))
    throw ConfigError(fmt::format("security.inter.broker.protocol {}: listeners has no listener named {}",
                                  c.security_inter_broker_protocol, c.security_inter_broker_protocol));
  if (c.clustered() && !c.listeners.empty()) {
    const auto& inter = c.inter_broker_listener();
    // Brokers reach each other's inter-broker listener as TLS clients: they
    // verify the peer against the truststore (there is no system CA fallback).
    if (uses_tls(inter.protocol) && c.tls_of(inter.name).truststore_location.empty())
      throw ConfigError(fmt::format(
          "the inter-broker listener {} uses {}: set ssl.truststore.location to the CA certificates that sign the "
          "brokers' certificates (each broker verifies the others against it)",
          inter.name, security_protocol_name(inter.protocol)));
    if (uses_sasl(inter.protocol)) {
      const auto& enabled = c.sasl_enabled_mechanisms;
      if (std::find(enabled.begin(), enabled.end(), c.sasl_mechanism_inter_broker_protocol) == enabled.end())
        throw ConfigError(fmt::format("sasl.mechanism.inter.broker.protocol {} is not in sasl.enabled.mechanisms",
                                      c.sasl_mechanism_inter_broker_protocol));
      c.inter_broker_sasl();  // throws when the login is missing
    }
  }
  bool any_sasl =
      std::any_of(c.listeners.begin(), c.listeners.end(), [](const auto& l) { return uses_sasl(l.protocol); });
  if (any_sasl && c.sasl_enabled_mechanisms.empty())
    throw ConfigError("sasl.enabled.mechanisms is empty, but a listener uses SASL");
  for (const auto& l : c.listeners) {
    if (!uses_tls(l.protocol)) continue;
    const TlsConfig& tls = c.tls_of(l.name);
    // Messages name the listener only when its own settings are involved.
    std::string where = c.listener_tls.count(l.name) ? " (listener " + l.name + ")" : "";
    if (tls.keystore_location.empty() && tls.keystore_key.empty())
      throw ConfigError(
          "an SSL or SASL_SSL listener needs ssl.keystore.location (or ssl.keystore.key and "
          "ssl.keystore.certificate.chain)" +
          where);
    if (!tls.keystore_key.empty() && tls.keystore_certificate_chain.empty())
      throw ConfigError("ssl.keystore.key needs ssl.keystore.certificate.chain" + where);
    if (tls.keystore_type != "PEM" && !tls.keystore_key.empty())
      throw ConfigError("ssl.keystore.key is PEM text: it needs ssl.keystore.type=PEM" + where);
    if (tls.client_auth != "none" && tls.truststore_location.empty())
      throw ConfigError("ssl.client.auth=" + tls.client_auth + " needs ssl.truststore.location" + where);
  }
  if (c.admin_listen != "off" && parse_admin_listen(c.admin_listen).tls && c.tls.keystore_location.empty() &&
      c.tls.keystore_key.empty())
    throw ConfigError(
        "runnel.admin.listen=https://... needs ssl.keystore.location (or ssl.keystore.key and "
        "ssl.keystore.certificate.chain): the admin listener presents the broker's certificate");
  if (c.data_dir.empty()) throw ConfigError("log.dirs must not be empty");
  validate_log_dirs(c.log_dirs());
  validate_group_config_bounds(c.group_config_bounds());
  validate_connection_quota_settings(apply_connection_quota_values({}, c.connection_quota_static));
  if (c.log.max_message_bytes > c.socket_request_max_bytes)
    throw ConfigError("message.max.bytes must not exceed socket.request.max.bytes");
  // Kafka's rule: a budget smaller than one request could never admit it.
  if (c.queued_max_request_bytes > 0 && c.queued_max_request_bytes < c.socket_request_max_bytes)
    throw ConfigError("queued.max.request.bytes must be larger or equal to socket.request.max.bytes");
  if (c.clustered() && cluster::etcd::parse_endpoints(c.etcd_endpoints).empty())
    throw ConfigError(
        fmt::format("invalid value '{}' for runnel.etcd.endpoints: expected http://host:port[,...]", c.etcd_endpoints));
}

std::vector<std::string> kafka_settings_taken_without_use() {
  std::vector<std::string> keys{"controller.listener.names"};
  for (const auto& [k, _] : kafka_settings_without_use()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<std::string> known_config_keys() {
  std::vector<std::string> keys;
  for (const auto& [k, _] : broker_setters()) keys.push_back(k);
  // The broker-wide connection quota keys, as DescribeConfigs lists them,
  // and the listener-level forms.
  for (auto& k : connection_quota_keys({}, {}, 0)) keys.push_back(std::move(k));
  for (const char* k :
       {"listener.name.<listener>.max.connections", "listener.name.<listener>.max.connection.creation.rate"})
    keys.emplace_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace runnel
