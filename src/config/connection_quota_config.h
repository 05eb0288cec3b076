#pragma once
// Kafka's connection quota keys (SocketServer.ReconfigurableConfigs and the
// listener-level ListenerConnectionQuota), static and dynamic:
//   max.connections                       broker-wide (the inter-broker listener
//                                         is exempt when there are others: KIP-402)
//   listener.name.<l>.max.connections     one listener (default: max.connections)
//   max.connections.per.ip                per client address
//   max.connections.per.ip.overrides      host:n,host:n
//   max.connection.creation.rate          new connections per second, broker-wide
//                                         (the inter-broker listener is exempt when
//                                         there are others: KIP-612)
//   listener.name.<l>.max.connection.creation.rate
//                                         one listener (default: the broker-wide one)
// The static values come from the config file / --set (BrokerConfig::
// connection_quota_static); dynamic ones live in the dynamic broker config
// document (config/dynamic_broker_config.h) with the same precedence as the
// other dynamic keys: per-broker > cluster default > static > Kafka's default.
// KIP-612's third kind, per-IP connection rates, are client quotas
// (config/client_quota_config.h); effective_connection_quotas() takes them
// from the same document.
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/dynamic_broker_config.h"

namespace runnel {

inline constexpr int32_t kUnlimitedConnections = 2147483647;  // Kafka's default: Int.MaxValue

struct ConnectionQuotaSettings {
  int32_t max_connections = kUnlimitedConnections;               // max.connections
  int32_t max_connections_per_ip = kUnlimitedConnections;        // max.connections.per.ip
  std::map<std::string, int32_t> per_ip_overrides;               // max.connections.per.ip.overrides: host -> n
  std::map<std::string, int32_t> listener_max;                   // listener.name.<l>.max.connections (l lower case)
  int32_t max_connection_creation_rate = kUnlimitedConnections;  // max.connection.creation.rate
  std::map<std::string, int32_t> listener_rate;  // listener.name.<l>.max.connection.creation.rate (l lower case)
  // Client quotas' connection_creation_rate (KIP-612's per-IP rate): by ip
  // entity name (an address or a host name), and the default ip entity's.
  std::map<std::string, int32_t> ip_connection_rates;
  int32_t default_ip_connection_rate = kUnlimitedConnections;
  bool operator==(const ConnectionQuotaSettings&) const = default;
  // The cap on one listener's connections: its own, else max.connections
  // (Kafka's valuesWithPrefixOverride). `listener` in any case.
  int32_t listener_max_connections(std::string_view listener) const;
  // The same for its connection creation rate.
  int32_t listener_connection_creation_rate(std::string_view listener) const;
};

// True for the keys above, including any listener.name.<l>.max.connections
// and listener.name.<l>.max.connection.creation.rate.
bool is_connection_quota_key(std::string_view key);
// Kafka's ConfigType of a quota key (INT 3, STRING 2 for the overrides).
int8_t connection_quota_key_type(std::string_view key);

// Throws ConfigError (with Kafka's wording) unless `value` is valid for `key`.
void validate_connection_quota_value(const std::string& key, const std::string& value);
// Parses max.connections.per.ip.overrides ("host:n,host:n"; "" is none).
std::map<std::string, int32_t> parse_per_ip_overrides(const std::string& value);

// The settings `values` (key -> value, any mix of quota keys) give over
// `base`. Throws ConfigError on a bad value.
ConnectionQuotaSettings apply_connection_quota_values(ConnectionQuotaSettings base, const ConfigMap& values);
// Kafka's checks across keys (KafkaConfig's: max.connections.per.ip may be 0
// only with overrides). Throws ConfigError.
void validate_connection_quota_settings(const ConnectionQuotaSettings& settings);

// The settings in force on `node_id`: the static values overlaid with the
// cluster default, then the broker's own, and the client quotas' per-IP
// connection rates. A stored value that does not parse is skipped
// (validated when written).
ConnectionQuotaSettings effective_connection_quotas(const ConfigMap& static_values, const DynamicBrokerConfigs& dynamic,
                                                    int32_t node_id);

// A dynamic change as Kafka's reconfigurables validate it: the new settings
// must pass validate_connection_quota_settings, and a broker-wide or listener
// max.connections that changes must be positive ("Invalid max.connections 0").
// Throws ConfigError.
void validate_connection_quota_change(const ConfigMap& static_values, const DynamicBrokerConfigs& current,
                                      const DynamicBrokerConfigs& next, int32_t node_id);

// The quota keys DescribeConfigs lists for a broker: the four broker-wide
// ones, and every listener-level one set at some level.
std::vector<std::string> connection_quota_keys(const ConfigMap& static_values, const DynamicBrokerConfigs& dynamic,
                                               int32_t node_id);
// Every level that has a value for `key`, most specific first (as
// broker_key_levels); for a listener key, those of its broker-wide key
// follow (its synonym, as Kafka lists it).
std::vector<ConfigLevel> connection_quota_key_levels(const std::string& key, const ConfigMap& static_values,
                                                     const DynamicBrokerConfigs& dynamic, int32_t node_id);

}  // namespace runnel
