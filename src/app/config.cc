#include "app/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include "cluster/etcd/client.h"
#include "config/parse.h"

namespace runnel {
namespace {

using config::parse_bool;
using config::parse_cleanup_policy;
using config::parse_compression_type;
using config::parse_double;
using config::parse_int;
using config::parse_timestamp_type;
using config::trim;

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

// host:port, or a listener URL such as PLAINTEXT://host:port.
std::pair<std::string, uint16_t> parse_listener(const std::string& key, const std::string& value) {
  std::string s = trim(value);
  if (auto comma = s.find(','); comma != std::string::npos)
    throw ConfigError(fmt::format("invalid value '{}' for {}: only one listener is supported", value, key));
  if (auto scheme = s.find("://"); scheme != std::string::npos) s = s.substr(scheme + 3);
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    throw ConfigError(fmt::format("invalid value '{}' for {}: expected host:port", value, key));
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  auto port = parse_int(key, s.substr(colon + 1), 0, 65535);
  return {host, static_cast<uint16_t>(port)};
}

using Setter = std::function<void(BrokerConfig&, const std::string& key, const std::string& value)>;

const std::map<std::string, Setter>& broker_setters() {
  constexpr int64_t kI32 = INT32_MAX;
  static const std::map<std::string, Setter> setters = {
      {"log.dirs", [](auto& c, auto&, auto& v) { c.data_dir = trim(v.substr(0, v.find(','))); }},
      {"log.dir", [](auto& c, auto&, auto& v) { c.data_dir = trim(v); }},
      {"listeners", [](auto& c, auto& k, auto& v) { std::tie(c.listen_host, c.listen_port) = parse_listener(k, v); }},
      {"advertised.listeners",
       [](auto& c, auto& k, auto& v) { std::tie(c.advertised_host, c.advertised_port) = parse_listener(k, v); }},
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
      {"group.initial.rebalance.delay.ms",
       [](auto& c, auto& k, auto& v) { c.group_initial_rebalance_delay_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.min.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_min_session_timeout_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.max.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_max_session_timeout_ms = int32_t(parse_int(k, v, 0, kI32)); }},
      {"group.consumer.heartbeat.interval.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_heartbeat_interval_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.group_consumer_session_timeout_ms = int32_t(parse_int(k, v, 1, kI32)); }},
      {"group.consumer.assignors",
       [](auto& c, auto& k, auto& v) { c.group_consumer_assignors = parse_assignors(k, v); }},
      {"runnel.shards", [](auto& c, auto& k, auto& v) { c.shards = int32_t(parse_int(k, v, 0, 256)); }},
      {"runnel.max.open.files", [](auto& c, auto& k, auto& v) { c.max_open_files = parse_int(k, v, 0, INT32_MAX); }},
      {"runnel.max.partitions", [](auto& c, auto& k, auto& v) { c.max_partitions = parse_int(k, v, 0, INT32_MAX); }},
      {"runnel.etcd.endpoints", [](auto& c, auto&, auto& v) { c.etcd_endpoints = trim(v); }},
      {"unclean.leader.election.enable",
       [](auto& c, auto& k, auto& v) { c.unclean_leader_election = parse_bool(k, v); }},
      {"auto.leader.rebalance.enable", [](auto& c, auto& k, auto& v) { c.auto_leader_rebalance = parse_bool(k, v); }},
      {"leader.imbalance.check.interval.seconds",
       [](auto& c, auto& k, auto& v) { c.leader_imbalance_check_interval_seconds = parse_int(k, v, 1, INT32_MAX); }},
      {"broker.rack", [](auto& c, auto&, auto& v) { c.rack = trim(v); }},
      {"broker.session.timeout.ms",
       [](auto& c, auto& k, auto& v) { c.broker_session_timeout_ms = parse_int(k, v, 1000, 3600000); }},
      {"runnel.idle.flush.ms", [](auto& c, auto& k, auto& v) { c.idle_flush_ms = parse_int(k, v, 1, INT32_MAX); }},
      {"runnel.admin.listen", [](auto& c, auto&, auto& v) { c.admin_listen = trim(v); }},
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

void set_config(BrokerConfig& c, const std::string& raw_key, const std::string& value) {
  std::string key = trim(raw_key);
  auto it = broker_setters().find(key);
  if (it == broker_setters().end()) throw ConfigError(fmt::format("unknown configuration key '{}'", key));
  it->second(c, key, value);
}

void load_config_file(BrokerConfig& c, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("cannot read config file '{}'", path));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos)
      throw ConfigError(fmt::format("{}:{}: expected key=value, got '{}'", path, number, line));
    set_config(c, line.substr(0, eq), trim(line.substr(eq + 1)));
  }
}

void validate_config(const BrokerConfig& c) {
  if (c.data_dir.empty()) throw ConfigError("log.dirs must not be empty");
  if (c.log.max_message_bytes > c.socket_request_max_bytes)
    throw ConfigError("message.max.bytes must not exceed socket.request.max.bytes");
  if (c.clustered() && cluster::etcd::parse_endpoints(c.etcd_endpoints).empty())
    throw ConfigError(
        fmt::format("invalid value '{}' for runnel.etcd.endpoints: expected http://host:port[,...]", c.etcd_endpoints));
}

std::vector<std::string> known_config_keys() {
  std::vector<std::string> keys;
  for (const auto& [k, _] : broker_setters()) keys.push_back(k);
  return keys;
}

}  // namespace runnel
