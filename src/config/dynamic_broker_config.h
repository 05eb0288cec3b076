#pragma once
// Broker-level configs changed at run time (IncrementalAlterConfigs and
// AlterConfigs on BROKER resources), as Kafka's DynamicBrokerConfig: a
// cluster-wide default (resource name "") and per-broker values (resource
// name = node id). runnel makes dynamic the broker keys that are defaults
// of topic configs it acts on (log.retention.ms, message.max.bytes, ...);
// a topic without its own setting follows them at once. The same document
// holds the log cleaner's dynamic keys (config/dynamic_cleaner_config.h) and
// the connection quotas (config/connection_quota_config.h), the client
// quotas (config/client_quota_config.h) and the group configs
// (config/group_config.h). Precedence, most
// specific first: topic override > per-broker > cluster default > static
// (config file / --set) > Kafka's default.
//
// The same JSON document is kept in DATA/meta/broker-configs.json on a single
// node and in etcd's `broker-configs` key in a cluster.
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/client_quota_config.h"
#include "config/config_error.h"
#include "storage/log_config.h"

namespace runnel {

// Kafka's DescribeConfigs config_source values.
enum class ConfigSource : int8_t {
  kTopic = 1,
  kDynamicBroker = 2,
  kDynamicDefaultBroker = 3,
  kStaticBroker = 4,
  kDefault = 5,
  kDynamicGroup = 8,  // a group's own value (GROUP resources)
};

// Kafka's name of a config_source value (DYNAMIC_TOPIC_CONFIG, ...), as
// kafka-configs.sh prints it; "UNKNOWN" for anything else.
const char* config_source_name(int8_t source);

using ConfigMap = std::map<std::string, std::string>;

struct DynamicBrokerConfigs {
  ConfigMap cluster_default;                // resource name ""
  std::map<int32_t, ConfigMap> per_broker;  // resource name = node id
  // The client quotas (AlterClientQuotas): kept in the same document so that
  // they reach every broker the same way (config/client_quota_config.h).
  ClientQuotas client_quotas;
  // The group configs (GROUP resources, config/group_config.h), by group id:
  // in the same document for the same reason.
  std::map<std::string, ConfigMap> group_configs;
  bool operator==(const DynamicBrokerConfigs&) const = default;
  // This broker's own values (empty when it has none).
  const ConfigMap& of(int32_t node_id) const;
};

// A broker key that may be changed at run time and the topic config it is
// the default of (log.retention.ms -> retention.ms).
struct DynamicBrokerKey {
  std::string broker_key;
  std::string topic_key;
};
// Sorted by broker key.
const std::vector<DynamicBrokerKey>& dynamic_broker_keys();
// The topic config a dynamic broker key is the default of; nullptr when the
// key is not dynamic.
const DynamicBrokerKey* find_dynamic_broker_key(std::string_view broker_key);

// Throws ConfigError unless every key is dynamic and its value valid.
void validate_dynamic_broker_configs(const ConfigMap& configs);

// The topic defaults in force on broker `node_id`: `static_defaults` overlaid
// with the cluster default, then with the broker's own values. Throws
// ConfigError when a stored value does not parse.
storage::LogConfig effective_topic_defaults(const storage::LogConfig& static_defaults,
                                            const DynamicBrokerConfigs& dynamic, int32_t node_id);

// One level of where a value comes from (DescribeConfigs' synonyms).
struct ConfigLevel {
  std::string name;  // the key at that level (the broker key for broker levels)
  std::string value;
  ConfigSource source;
};
// Every level that has a value for broker key `key`, most specific first:
// the broker's own dynamic value, the cluster default, the static setting
// (when it differs from Kafka's default: the static setting is known only by
// its value) and Kafka's default. The first is the value in force. Shared by
// every kind of dynamic broker key (topic defaults, log cleaner, connection
// quotas).
std::vector<ConfigLevel> config_levels(const std::string& key, const DynamicBrokerConfigs& dynamic, int32_t node_id,
                                       const std::string& static_value, const std::string& kafka_default);
// Every level that has a value for a dynamic broker key, most specific first:
// the broker's own, the cluster default, the static setting (when it differs
// from Kafka's default), Kafka's default. The first is the value in force.
std::vector<ConfigLevel> broker_key_levels(const DynamicBrokerKey& key, const storage::LogConfig& static_defaults,
                                           const DynamicBrokerConfigs& dynamic, int32_t node_id);

// The JSON document: {"version":1,"default":{k:v},"brokers":{"<id>":{k:v}}},
// with "client_quotas" (client_quotas_to_json) and "groups" ({group: {k:v}})
// when there are any.
// decode throws std::invalid_argument on anything else (keys and values are
// not validated: a stored value that no longer parses is reported when used).
std::string encode_dynamic_broker_configs(const DynamicBrokerConfigs& configs);
DynamicBrokerConfigs decode_dynamic_broker_configs(std::string_view text);

}  // namespace runnel
