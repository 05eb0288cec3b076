#include "config/connection_quota_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "config/config_error.h"
#include "config/parse.h"
#include "config/topic_config.h"

namespace runnel {
namespace {

constexpr std::string_view kMaxConnections = "max.connections", kPerIp = "max.connections.per.ip",
                           kPerIpOverrides = "max.connections.per.ip.overrides",
                           kCreationRate = "max.connection.creation.rate", kListenerPrefix = "listener.name.";

// The listener of listener.name.<l>.<base>, lower case; "" for any other key.
std::string listener_of(std::string_view key, std::string_view base) {
  if (!key.starts_with(kListenerPrefix)) return "";
  const std::string suffix = "." + std::string(base);
  if (!key.ends_with(suffix) || key.size() <= kListenerPrefix.size() + suffix.size()) return "";
  std::string listener(key.substr(kListenerPrefix.size(), key.size() - kListenerPrefix.size() - suffix.size()));
  if (listener.find('.') != std::string::npos) return "";
  for (auto& ch : listener) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return listener;
}

// The listener of listener.name.<l>.max.connections.
std::string quota_listener_of(std::string_view key) { return listener_of(key, kMaxConnections); }
// The listener of listener.name.<l>.max.connection.creation.rate.
std::string rate_listener_of(std::string_view key) { return listener_of(key, kCreationRate); }

// The broker-wide key a listener-level key overrides ("" for any other key).
std::string_view broker_key_of_listener_key(std::string_view key) {
  if (!quota_listener_of(key).empty()) return kMaxConnections;
  if (!rate_listener_of(key).empty()) return kCreationRate;
  return {};
}

int32_t for_listener(const std::map<std::string, int32_t>& values, std::string_view listener, int32_t fallback) {
  std::string lower(listener);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = values.find(lower);
  return it == values.end() ? fallback : it->second;
}

// Kafka's ConfigDef INT with atLeast(0), and its messages.
int32_t parse_quota_int(const std::string& key, const std::string& value) {
  auto s = config::trim(value);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > kUnlimitedConnections ||
      v < -static_cast<int64_t>(kUnlimitedConnections) - 1)
    throw ConfigError(fmt::format("Invalid value {} for configuration {}: Not a number of type INT", value, key));
  if (v < 0) throw ConfigError(fmt::format("Invalid value {} for configuration {}: Value must be at least 0", v, key));
  return static_cast<int32_t>(v);
}

void apply_quota_value(ConnectionQuotaSettings& s, const std::string& key, const std::string& value) {
  if (key == kMaxConnections)
    s.max_connections = parse_quota_int(key, value);
  else if (key == kPerIp)
    s.max_connections_per_ip = parse_quota_int(key, value);
  else if (key == kPerIpOverrides)
    s.per_ip_overrides = parse_per_ip_overrides(value);
  else if (key == kCreationRate)
    s.max_connection_creation_rate = parse_quota_int(key, value);
  else if (auto listener = quota_listener_of(key); !listener.empty())
    s.listener_max[listener] = parse_quota_int(key, value);
  else if (auto rate_listener = rate_listener_of(key); !rate_listener.empty())
    s.listener_rate[rate_listener] = parse_quota_int(key, value);
  else
    throw ConfigError(fmt::format("Cannot update these configs dynamically: Set({})", key));
}

void overlay_quota_values(ConnectionQuotaSettings& s, const ConfigMap& values) {
  for (const auto& [k, v] : values) {
    if (!is_connection_quota_key(k)) continue;
    try {
      apply_quota_value(s, k, v);
    } catch (const ConfigError&) {
      // Skipped: see effective_connection_quotas().
    }
  }
}

std::string quota_kafka_default(const std::string& key) {
  return key == kPerIpOverrides ? "" : std::to_string(kUnlimitedConnections);
}

std::string quota_lookup(const ConfigMap& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? std::string() : it->second;
}

}  // namespace

int32_t ConnectionQuotaSettings::listener_max_connections(std::string_view listener) const {
  return for_listener(listener_max, listener, max_connections);
}

int32_t ConnectionQuotaSettings::listener_connection_creation_rate(std::string_view listener) const {
  return for_listener(listener_rate, listener, max_connection_creation_rate);
}

bool is_connection_quota_key(std::string_view key) {
  return key == kMaxConnections || key == kPerIp || key == kPerIpOverrides || key == kCreationRate ||
         !broker_key_of_listener_key(key).empty();
}

int8_t connection_quota_key_type(std::string_view key) {
  return key == kPerIpOverrides ? config_type::kString : config_type::kInt;
}

void validate_connection_quota_value(const std::string& key, const std::string& value) {
  ConnectionQuotaSettings scratch;
  apply_quota_value(scratch, key, value);
}

std::map<std::string, int32_t> parse_per_ip_overrides(const std::string& value) {
  // Kafka's Csv.parseCsvMap: pairs split at commas (spaces around them
  // ignored), each at its last ':' (so IPv6 addresses work); hosts checked
  // with Utils.validHostPattern.
  std::map<std::string, int32_t> out;
  auto text = config::trim(value);
  if (text.empty()) return out;
  std::set<std::string> invalid;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    auto pair = config::trim(text.substr(start, comma - start));
    auto colon = pair.rfind(':');
    if (colon == std::string::npos)
      throw ConfigError(fmt::format("Error parsing configuration property '{}': expected host:count, got '{}'",
                                    kPerIpOverrides, pair));
    auto host = config::trim(pair.substr(0, colon));
    auto count_text = config::trim(pair.substr(colon + 1));
    int64_t count = 0;
    auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (count_text.empty() || ec != std::errc() || end != count_text.data() + count_text.size() || count < 0 ||
        count > kUnlimitedConnections)
      throw ConfigError(fmt::format("Invalid value {} for configuration {}: For input string: \"{}\"", value,
                                    kPerIpOverrides, count_text));
    bool valid_host = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '%' || c == '.' || c == '_' || c == ':';
    });
    if (!valid_host || host.empty()) invalid.insert(host);
    out[host] = static_cast<int32_t>(count);
    start = comma + 1;
  }
  if (!invalid.empty()) {
    std::string list;
    for (const auto& h : invalid) list += (list.empty() ? "" : ",") + h;
    throw ConfigError(fmt::format("{} contains invalid addresses : {}", kPerIpOverrides, list));
  }
  return out;
}

ConnectionQuotaSettings apply_connection_quota_values(ConnectionQuotaSettings base, const ConfigMap& values) {
  for (const auto& [k, v] : values)
    if (is_connection_quota_key(k)) apply_quota_value(base, k, v);
  return base;
}

void validate_connection_quota_settings(const ConnectionQuotaSettings& s) {
  if (s.max_connections_per_ip == 0 && s.per_ip_overrides.empty())
    throw ConfigError(
        fmt::format("requirement failed: {} can be set to zero only if {} property is set.", kPerIp, kPerIpOverrides));
}

ConnectionQuotaSettings effective_connection_quotas(const ConfigMap& static_values, const DynamicBrokerConfigs& dynamic,
                                                    int32_t node_id) {
  ConnectionQuotaSettings s;
  overlay_quota_values(s, static_values);
  overlay_quota_values(s, dynamic.cluster_default);
  overlay_quota_values(s, dynamic.of(node_id));
  std::optional<int32_t> default_ip_rate;
  s.ip_connection_rates = ip_connection_rates(dynamic.client_quotas, &default_ip_rate);
  if (default_ip_rate) s.default_ip_connection_rate = *default_ip_rate;
  return s;
}

void validate_connection_quota_change(const ConfigMap& static_values, const DynamicBrokerConfigs& current,
                                      const DynamicBrokerConfigs& next, int32_t node_id) {
  auto before = effective_connection_quotas(static_values, current, node_id);
  auto after = effective_connection_quotas(static_values, next, node_id);
  if (before == after) return;
  validate_connection_quota_settings(after);
  // Kafka's ListenerConnectionQuota.validateReconfiguration: a listener's
  // max.connections (its own, else the broker-wide one) must be positive
  // once it changes.
  if (after.max_connections != before.max_connections && after.max_connections <= 0)
    throw ConfigError(fmt::format("Invalid {} {}", kMaxConnections, after.max_connections));
  for (const auto& [listener, n] : after.listener_max)
    if (n <= 0 && before.listener_max_connections(listener) != n)
      throw ConfigError(fmt::format("Invalid {} {}", kMaxConnections, n));
  // The same for the creation rate (a listener's, else the broker-wide one).
  if (after.max_connection_creation_rate != before.max_connection_creation_rate &&
      after.max_connection_creation_rate <= 0)
    throw ConfigError(fmt::format("Invalid {} {}", kCreationRate, after.max_connection_creation_rate));
  for (const auto& [listener, n] : after.listener_rate)
    if (n <= 0 && before.listener_connection_creation_rate(listener) != n)
      throw ConfigError(fmt::format("Invalid {} {}", kCreationRate, n));
}

std::vector<std::string> connection_quota_keys(const ConfigMap& static_values, const DynamicBrokerConfigs& dynamic,
                                               int32_t node_id) {
  std::set<std::string> keys = {std::string(kMaxConnections), std::string(kPerIp), std::string(kPerIpOverrides),
                                std::string(kCreationRate)};
  for (const ConfigMap* map : {&static_values, &dynamic.cluster_default, &dynamic.of(node_id)})
    for (const auto& [k, _] : *map)
      if (!broker_key_of_listener_key(k).empty()) keys.insert(k);
  return {keys.begin(), keys.end()};
}

std::vector<ConfigLevel> connection_quota_key_levels(const std::string& key, const ConfigMap& static_values,
                                                     const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  auto levels_of = [&](const std::string& k) {
    auto kafka = quota_kafka_default(k);
    auto configured = quota_lookup(static_values, k);
    return config_levels(k, dynamic, node_id, static_values.count(k) ? configured : kafka, kafka);
  };
  const auto broker_key = broker_key_of_listener_key(key);
  if (broker_key.empty()) return levels_of(key);
  // A listener's own levels (there is no Kafka default at that level), then
  // those of its broker-wide key.
  auto own = levels_of(key);
  std::vector<ConfigLevel> levels;
  for (auto& l : own)
    if (l.source != ConfigSource::kDefault) levels.push_back(std::move(l));
  for (auto& l : levels_of(std::string(broker_key))) levels.push_back(std::move(l));
  return levels;
}

}  // namespace runnel
