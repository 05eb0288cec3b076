#include "config/broker_config.h"

#include <sys/resource.h>

#include <algorithm>

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

const ListenerConfig& BrokerConfig::inter_broker_listener() const {
  static const ListenerConfig kDefault{"PLAINTEXT", SecurityProtocol::kPlaintext, "127.0.0.1", 9092, "", 0};
  if (listeners.empty()) return kDefault;
  const std::string& wanted = inter_broker_listener_name.empty() ? "PLAINTEXT" : inter_broker_listener_name;
  for (const auto& l : listeners)
    if (l.name == wanted) return l;
  return listeners.front();
}

int64_t BrokerConfig::effective_max_open_files() const {
  return max_open_files > 0 ? max_open_files : std::max<int64_t>(64, nofile_limit() / 2);
}

int64_t BrokerConfig::effective_max_partitions() const { return max_partitions > 0 ? max_partitions : nofile_limit(); }

}  // namespace runnel
