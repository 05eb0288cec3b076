#include "config/topic_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <regex>

#include "config/parse.h"

namespace runnel {
namespace {

using config::parse_bool;
using config::parse_cleanup_policy;
using config::parse_compression_type;
using config::parse_double;
using config::parse_int;
using config::parse_timestamp_type;
using storage::LogConfig;

using namespace config_type;
constexpr int64_t kLongMax = std::numeric_limits<int64_t>::max();

// Why a group of configs has no effect (yet), as the README tells it.
const char* const kNoTieredStorage = "no tiered storage";
const char* const kOnlyV2 = "deprecated in Kafka 3.x; runnel stores only the v2 record format";

using Setter = std::function<void(LogConfig&, const std::string& key, const std::string& value)>;
using Getter = std::function<std::string(const LogConfig&)>;

struct Definition {
  TopicConfigInfo info;
  Setter set;  // validates, and sets `LogConfig` when runnel acts on it
  Getter get;  // the value under a LogConfig
};

Getter fixed(std::string value) {
  return [value](const LogConfig&) { return value; };
}

Setter int_range(int64_t min, int64_t max) {
  return [min, max](LogConfig&, const std::string& k, const std::string& v) { (void)parse_int(k, v, min, max); };
}

Setter boolean() {
  return [](LogConfig&, const std::string& k, const std::string& v) { (void)parse_bool(k, v); };
}

// Kafka's ThrottledReplicaListValidator: empty, "*", or partition:broker pairs.
storage::ThrottledReplicas parse_throttled_replicas(const std::string& k, const std::string& v) {
  static const std::regex kList(R"(^\s*(\*|(\d+:\d+(\s*,\s*\d+:\d+)*))?\s*$)");
  if (!std::regex_match(v, kList))
    throw ConfigError(
        fmt::format("Invalid value {} for configuration {}: must be the literal '*' or a list of "
                    "replicas in the following format: [partitionId]:[brokerId],...",
                    v, k));
  storage::ThrottledReplicas out;
  const std::string text = config::trim(v);
  if (text == "*") {
    out.all = true;
    return out;
  }
  // Ids past INT32_MAX name no partition or broker: they are kept as
  // INT32_MAX, which matches none.
  auto id = [](const std::string& digits) {
    int64_t value = 0;
    for (char c : digits) value = std::min<int64_t>(value * 10 + (c - '0'), INT32_MAX);
    return static_cast<int32_t>(value);
  };
  static const std::regex kPair(R"((\d+):(\d+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kPair); it != std::sregex_iterator(); ++it)
    out.replicas.emplace_back(id((*it)[1]), id((*it)[2]));
  return out;
}

std::string throttled_replicas_text(const storage::ThrottledReplicas& t) {
  if (t.all) return "*";
  std::string out;
  for (const auto& [p, b] : t.replicas) out += (out.empty() ? "" : ",") + std::to_string(p) + ":" + std::to_string(b);
  return out;
}

std::string timestamp_type_name(storage::TimestampType t) {
  return t == storage::TimestampType::LogAppendTime ? "LogAppendTime" : "CreateTime";
}

std::string compression_name(int8_t codec) {
  switch (codec) {
    case 0:
      return "uncompressed";
    case 1:
      return "gzip";
    case 2:
      return "snappy";
    case 3:
      return "lz4";
    case 4:
      return "zstd";
    default:
      return "producer";
  }
}

std::string cleanup_policy_name(const LogConfig& c) {
  if (c.compact && c.cleanup_delete) return "compact,delete";
  if (c.compact) return "compact";
  return c.cleanup_delete ? "delete" : "";
}

std::vector<Definition> make_definitions() {
  std::vector<Definition> d = {
      {{"cleanup.policy",
        kList,
        {"log.cleanup.policy"},
        "",
        "delete: old segments are deleted by retention.ms / retention.bytes; compact: the log cleaner keeps the "
        "latest value per key (a compact-only topic is never cut by retention); both: both"},
       [](LogConfig& c, auto& k, auto& v) { parse_cleanup_policy(k, v, c); },
       [](const LogConfig& c) { return cleanup_policy_name(c); }},
      {{"compression.gzip.level", kInt, {"compression.gzip.level"}, "", "gzip level for compression.type"},
       [](LogConfig& c, auto& k, auto& v) {
         auto level = parse_int(k, v, -1, 9);
         if (level == 0)
           throw ConfigError(
               fmt::format("Invalid value 0 for configuration {}: Value must be between 1 and 9, or equal to -1", k));
         c.compression_gzip_level = int32_t(level);
       },
       [](const LogConfig& c) { return std::to_string(c.compression_gzip_level); }},
      {{"compression.lz4.level", kInt, {"compression.lz4.level"}, "", "lz4 level for compression.type"},
       [](LogConfig& c, auto& k, auto& v) { c.compression_lz4_level = int32_t(parse_int(k, v, 1, 17)); },
       [](const LogConfig& c) { return std::to_string(c.compression_lz4_level); }},
      {{"compression.type",
        kString,
        {"compression.type"},
        "",
        "the codec the broker stores batches with (a batch in another codec is recompressed); producer keeps the "
        "producer's"},
       [](LogConfig& c, auto& k, auto& v) { c.compression = parse_compression_type(k, v); },
       [](const LogConfig& c) { return compression_name(c.compression); }},
      {{"compression.zstd.level", kInt, {"compression.zstd.level"}, "", "zstd level for compression.type"},
       [](LogConfig& c, auto& k, auto& v) { c.compression_zstd_level = int32_t(parse_int(k, v, -131072, 22)); },
       [](const LogConfig& c) { return std::to_string(c.compression_zstd_level); }},
      {{"delete.retention.ms",
        kLong,
        {"log.cleaner.delete.retention.ms"},
        "",
        "how long tombstones (and markers of transactions with no data left) outlive their first cleaning"},
       [](LogConfig& c, auto& k, auto& v) { c.delete_retention_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.delete_retention_ms); }},
      {{"file.delete.delay.ms",
        kLong,
        {"log.segment.delete.delay.ms"},
        "",
        "how long a deleted segment's files stay on disk (renamed .deleted)"},
       [](LogConfig& c, auto& k, auto& v) { c.file_delete_delay_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.file_delete_delay_ms); }},
      {{"flush.messages",
        kLong,
        {"log.flush.interval.messages"},
        "",
        "fsync acks=0/1 data once this many records are unsynced"},
       [](LogConfig& c, auto& k, auto& v) { c.flush_messages = parse_int(k, v, 1, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.flush_messages); }},
      {{"flush.ms", kLong, {"log.flush.interval.ms"}, "", "fsync acks=0/1 data this long after the last sync"},
       [](LogConfig& c, auto& k, auto& v) { c.flush_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.flush_ms); }},
      {{"follower.replication.throttled.replicas",
        kList,
        {},  // no broker default, as in Kafka
        "",
        "replicas throttled on the follower side"},
       [](LogConfig& c, auto& k, auto& v) { c.follower_throttled = parse_throttled_replicas(k, v); },
       [](const LogConfig& c) { return throttled_replicas_text(c.follower_throttled); }},
      {{"index.interval.bytes",
        kInt,
        {"log.index.interval.bytes"},
        "",
        "bytes between two entries of the offset index"},
       [](LogConfig& c, auto& k, auto& v) { c.index_interval_bytes = int32_t(parse_int(k, v, 0, INT32_MAX)); },
       [](const LogConfig& c) { return std::to_string(c.index_interval_bytes); }},
      {{"leader.replication.throttled.replicas",
        kList,
        {},  // no broker default, as in Kafka
        "",
        "replicas throttled on the leader side"},
       [](LogConfig& c, auto& k, auto& v) { c.leader_throttled = parse_throttled_replicas(k, v); },
       [](const LogConfig& c) { return throttled_replicas_text(c.leader_throttled); }},
      {{"local.retention.bytes",
        kLong,
        {"log.local.retention.bytes"},
        kNoTieredStorage,
        "local retention with tiered storage"},
       int_range(-2, kLongMax),
       fixed("-2")},
      {{"local.retention.ms",
        kLong,
        {"log.local.retention.ms"},
        kNoTieredStorage,
        "local retention with tiered storage"},
       int_range(-2, kLongMax),
       fixed("-2")},
      {{"max.compaction.lag.ms",
        kLong,
        {"log.cleaner.max.compaction.lag.ms"},
        "",
        "the longest a record stays uncompacted (whatever min.cleanable.dirty.ratio says)"},
       [](LogConfig& c, auto& k, auto& v) { c.max_compaction_lag_ms = parse_int(k, v, 1, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.max_compaction_lag_ms); }},
      {{"max.message.bytes", kInt, {"message.max.bytes"}, "", "the largest record batch the topic takes"},
       [](LogConfig& c, auto& k, auto& v) { c.max_message_bytes = int32_t(parse_int(k, v, 0, INT32_MAX)); },
       [](const LogConfig& c) { return std::to_string(c.max_message_bytes); }},
      {{"message.downconversion.enable",
        kBoolean,
        {"log.message.downconversion.enable"},
        kOnlyV2,
        "down-conversion for old consumers (removed in Kafka 4.0)"},
       boolean(),
       fixed("true")},
      {{"message.format.version",
        kString,
        {"log.message.format.version"},
        kOnlyV2,
        "the message format version (removed in Kafka 4.0)"},
       [](LogConfig&, auto& k, auto& v) {
         static const std::regex kVersion(R"(^\s*\d+\.\d+(\.\d+)?(-IV\d+)?\s*$)");
         if (!std::regex_match(v, kVersion))
           throw ConfigError(fmt::format("Invalid value {} for configuration {}: not a Kafka version", v, k));
       },
       fixed("3.0-IV1")},
      {{"message.timestamp.after.max.ms",
        kLong,
        {"log.message.timestamp.after.max.ms"},
        "",
        "how far a CreateTime timestamp may lie ahead of the broker's clock"},
       [](LogConfig& c, auto& k, auto& v) { c.timestamp_after_max_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.effective_timestamp_after_max_ms()); }},
      {{"message.timestamp.before.max.ms",
        kLong,
        {"log.message.timestamp.before.max.ms"},
        "",
        "how far a CreateTime timestamp may lie behind the broker's clock"},
       [](LogConfig& c, auto& k, auto& v) { c.timestamp_before_max_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.effective_timestamp_before_max_ms()); }},
      {{"message.timestamp.difference.max.ms",
        kLong,
        {"log.message.timestamp.difference.max.ms"},
        "",
        "before and after at once (removed in Kafka 4.0; its two successors take precedence)"},
       [](LogConfig& c, auto& k, auto& v) { c.timestamp_difference_max_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) {
         return std::to_string(c.timestamp_difference_max_ms.value_or(std::numeric_limits<int64_t>::max()));
       }},
      {{"message.timestamp.type",
        kString,
        {"log.message.timestamp.type"},
        "",
        "CreateTime (the producer's) or LogAppendTime (the broker's)"},
       [](LogConfig& c, auto& k, auto& v) { c.timestamp_type = parse_timestamp_type(k, v); },
       [](const LogConfig& c) { return timestamp_type_name(c.timestamp_type); }},
      {{"min.cleanable.dirty.ratio",
        kDouble,
        {"log.cleaner.min.cleanable.ratio"},
        "",
        "the share of uncompacted log that makes a partition worth cleaning"},
       [](LogConfig& c, auto& k, auto& v) { c.min_cleanable_dirty_ratio = parse_double(k, v, 0, 1); },
       [](const LogConfig& c) { return fmt::format("{}", c.min_cleanable_dirty_ratio); }},
      {{"min.compaction.lag.ms",
        kLong,
        {"log.cleaner.min.compaction.lag.ms"},
        "",
        "the shortest a record stays uncompacted"},
       [](LogConfig& c, auto& k, auto& v) { c.min_compaction_lag_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.min_compaction_lag_ms); }},
      {{"min.insync.replicas",
        kInt,
        {"min.insync.replicas"},
        "",
        "the fewest in-sync replicas an acks=all write needs"},
       [](LogConfig& c, auto& k, auto& v) { c.min_insync_replicas = int32_t(parse_int(k, v, 1, INT32_MAX)); },
       [](const LogConfig& c) { return std::to_string(c.min_insync_replicas); }},
      {{"preallocate", kBoolean, {"log.preallocate"}, "", "reserve segment.bytes of disk for each new segment file"},
       [](LogConfig& c, auto& k, auto& v) { c.preallocate = parse_bool(k, v); },
       [](const LogConfig& c) { return c.preallocate ? "true" : "false"; }},
      {{"remote.log.copy.disable", kBoolean, {}, kNoTieredStorage, "stop copying to tiered storage"},
       boolean(),
       fixed("false")},
      {{"remote.log.delete.on.disable", kBoolean, {}, kNoTieredStorage, "delete tiered data when disabled"},
       boolean(),
       fixed("false")},
      {{"remote.storage.enable", kBoolean, {}, kNoTieredStorage, "tiered storage for the topic"},
       [](LogConfig&, auto& k, auto& v) {
         // Kafka's answer on a broker without remote.log.storage.system.enable.
         if (parse_bool(k, v))
           throw ConfigError(
               "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log "
               "storage.");
       },
       fixed("false")},
      {{"retention.bytes",
        kLong,
        {"log.retention.bytes"},
        "",
        "the size a partition is cut back to (delete policy; -1: no limit)"},
       [](LogConfig& c, auto& k, auto& v) { c.retention_bytes = parse_int(k, v, -1, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.retention_bytes); }},
      {{"retention.ms",
        kLong,
        {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
        "",
        "how long records are kept (delete policy; -1: for ever)"},
       [](LogConfig& c, auto& k, auto& v) { c.retention_ms = parse_int(k, v, -1, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.retention_ms); }},
      {{"segment.bytes", kInt, {"log.segment.bytes"}, "", "the size at which a segment is rolled"},
       [](LogConfig& c, auto& k, auto& v) { c.segment_bytes = parse_int(k, v, 14, INT32_MAX); },
       [](const LogConfig& c) { return std::to_string(c.segment_bytes); }},
      {{"segment.index.bytes",
        kInt,
        {"log.index.size.max.bytes"},
        "",
        "the largest offset or time index; the segment rolls when one is full"},
       [](LogConfig& c, auto& k, auto& v) { c.segment_index_bytes = int32_t(parse_int(k, v, 4, INT32_MAX)); },
       [](const LogConfig& c) { return std::to_string(c.segment_index_bytes); }},
      {{"segment.jitter.ms",
        kLong,
        {"log.roll.jitter.ms", "log.roll.jitter.hours"},
        "",
        "random jitter subtracted from segment.ms"},
       [](LogConfig& c, auto& k, auto& v) { c.segment_jitter_ms = parse_int(k, v, 0, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.segment_jitter_ms); }},
      {{"segment.ms", kLong, {"log.roll.ms", "log.roll.hours"}, "", "the age at which a segment is rolled"},
       [](LogConfig& c, auto& k, auto& v) { c.segment_ms = parse_int(k, v, 1, kLongMax); },
       [](const LogConfig& c) { return std::to_string(c.segment_ms); }},
      {{"unclean.leader.election.enable",
        kBoolean,
        {"unclean.leader.election.enable"},
        "",
        "elect a replica outside the ISR when no in-sync one is left"},
       [](LogConfig& c, auto& k, auto& v) { c.unclean_leader_election = parse_bool(k, v); },
       [](const LogConfig& c) { return std::string(c.unclean_leader_election ? "true" : "false"); }},
  };
  std::sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.info.name < b.info.name; });
  return d;
}

const std::vector<Definition>& definitions() {
  static const std::vector<Definition> d = make_definitions();
  return d;
}

const Definition* find(const std::string& name) {
  const auto& d = definitions();
  auto it =
      std::lower_bound(d.begin(), d.end(), name, [](const auto& def, const auto& n) { return def.info.name < n; });
  return it != d.end() && it->info.name == name ? &*it : nullptr;
}

}  // namespace

storage::LogConfig topic_log_config(const storage::LogConfig& defaults,
                                    const std::map<std::string, std::string>& overrides) {
  storage::LogConfig c = defaults;
  for (const auto& [k, v] : overrides) {
    const auto* def = find(k);
    if (!def) throw ConfigError(fmt::format("unknown topic configuration '{}'", k));
    def->set(c, k, v);
  }
  return c;
}

const std::vector<TopicConfigInfo>& topic_config_infos() {
  static const std::vector<TopicConfigInfo> infos = [] {
    std::vector<TopicConfigInfo> out;
    for (const auto& d : definitions()) out.push_back(d.info);
    return out;
  }();
  return infos;
}

std::vector<std::pair<std::string, std::string>> topic_config_defaults(const storage::LogConfig& config) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : definitions()) out.emplace_back(d.info.name, d.get(config));
  return out;
}

bool is_topic_config(const std::string& name) { return find(name) != nullptr; }

const TopicConfigInfo* find_topic_config_info(const std::string& name) {
  const auto* def = find(name);
  return def ? &def->info : nullptr;
}

std::string kafka_topic_config_default(const std::string& name) {
  const auto* def = find(name);
  return def ? def->get(storage::LogConfig{}) : std::string();
}

}  // namespace runnel
