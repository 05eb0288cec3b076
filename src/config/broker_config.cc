#include "config/broker_config.h"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>

#include "config/jaas.h"

namespace runnel {
namespace {
int64_t nofile_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
  return static_cast<int64_t>(rl.rlim_cur);
}
}  // namespace

std::string_view security_protocol_name(SecurityProtocol p) {
  switch (p) {
    case SecurityProtocol::kPlaintext:
      return "PLAINTEXT";
    case SecurityProtocol::kSsl:
      return "SSL";
    case SecurityProtocol::kSaslPlaintext:
      return "SASL_PLAINTEXT";
    case SecurityProtocol::kSaslSsl:
      return "SASL_SSL";
  }
  return "PLAINTEXT";
}

std::optional<SecurityProtocol> parse_security_protocol(std::string_view name) {
  for (auto p : {SecurityProtocol::kPlaintext, SecurityProtocol::kSsl, SecurityProtocol::kSaslPlaintext,
                 SecurityProtocol::kSaslSsl})
    if (security_protocol_name(p) == name) return p;
  return std::nullopt;
}

const TlsConfig& BrokerConfig::tls_of(const std::string& listener_name) const {
  auto it = listener_tls.find(listener_name);
  return it == listener_tls.end() ? tls : it->second;
}

const ListenerConfig& BrokerConfig::inter_broker_listener() const {
  static const ListenerConfig kDefault{"PLAINTEXT", SecurityProtocol::kPlaintext, "127.0.0.1", 9092, "", 0};
  if (listeners.empty()) return kDefault;
  const std::string wanted = inter_broker_listener_wanted();
  for (const auto& l : listeners)
    if (l.name == wanted) return l;
  return listeners.front();
}

std::string BrokerConfig::inter_broker_listener_wanted() const {
  if (!inter_broker_listener_name.empty()) return inter_broker_listener_name;
  if (!security_inter_broker_protocol.empty()) return security_inter_broker_protocol;
  return "PLAINTEXT";
}

std::optional<InterBrokerSasl> BrokerConfig::inter_broker_sasl() const {
  const auto& listener = inter_broker_listener();
  if (!uses_sasl(listener.protocol)) return std::nullopt;
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  const std::string key = lower(listener.name) + "." + lower(sasl_mechanism_inter_broker_protocol);
  const std::string property = "listener.name." + key + ".sasl.jaas.config";
  auto it = listener_sasl_jaas.find(key);
  if (it == listener_sasl_jaas.end())
    throw ConfigError("the inter-broker listener " + listener.name + " uses SASL, but " + property +
                      " (username=\"...\" password=\"...\") is not set");
  auto options = parse_jaas_options(it->second);
  if (!options) throw ConfigError(property + " is not a JAAS configuration line");
  auto user = options->find("username");
  auto password = options->find("password");
  if (user == options->end() || user->second.empty() || password == options->end() || password->second.empty())
    throw ConfigError(property + " has no username=\"...\" and password=\"...\"");
  return InterBrokerSasl{sasl_mechanism_inter_broker_protocol, user->second, password->second};
}

int64_t BrokerConfig::effective_max_open_files() const {
  return max_open_files > 0 ? max_open_files : std::max<int64_t>(64, nofile_limit() / 2);
}

int64_t BrokerConfig::effective_max_partitions() const { return max_partitions > 0 ? max_partitions : nofile_limit(); }

GroupConfigBounds BrokerConfig::group_config_bounds() const {
  return {.session_timeout_ms = group_consumer_session_timeout_ms,
          .min_session_timeout_ms = group_consumer_min_session_timeout_ms,
          .max_session_timeout_ms = group_consumer_max_session_timeout_ms,
          .heartbeat_interval_ms = group_consumer_heartbeat_interval_ms,
          .min_heartbeat_interval_ms = group_consumer_min_heartbeat_interval_ms,
          .max_heartbeat_interval_ms = group_consumer_max_heartbeat_interval_ms};
}

}  // namespace runnel
