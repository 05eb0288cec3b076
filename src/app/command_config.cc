#include "app/command_config.h"

#include <map>
#include <memory>

#include "app/config.h"
#include "app/peer_login.h"
#include "config/config_error.h"
#include "config/jaas.h"
#include "security/tls_context.h"

namespace runnel::app {
namespace {

std::string setting(const std::map<std::string, std::string>& props, const std::string& key) {
  auto it = props.find(key);
  return it == props.end() ? "" : it->second;
}

// The ssl.* keys through the broker's own parser (the same names, values
// and checks as server.properties).
TlsConfig tls_settings(const std::map<std::string, std::string>& props) {
  BrokerConfig c;
  for (const auto& [key, value] : props) {
    if (key.rfind("ssl.", 0) != 0) continue;
    try {
      set_config(c, key, value);
    } catch (const std::exception& e) {
      throw CommandConfigError(std::string("--command-config: ") + e.what());
    }
  }
  return c.tls;
}

// Java properties: key=value or key:value lines, '#' and '!' comments (a
// line without a separator is skipped, as before).
std::map<std::string, std::string> read_properties(const std::string& path) {
  auto lines = read_property_lines(path);
  if (!lines) throw CommandConfigError("cannot read --command-config " + path);
  std::map<std::string, std::string> props;
  for (auto& line : *lines)
    if (line.value) props[line.key] = std::move(*line.value);
  return props;
}

}  // namespace

Dialer command_config_dialer(const std::string& path) {
  const auto props = read_properties(path);
  const std::string protocol_name = setting(props, "security.protocol");
  const auto protocol = parse_security_protocol(protocol_name.empty() ? "PLAINTEXT" : protocol_name);
  if (!protocol)
    throw CommandConfigError("--command-config: security.protocol=" + protocol_name +
                             ": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
  if (*protocol == SecurityProtocol::kPlaintext) return {};
  PeerLogin login;
  login.protocol = *protocol;
  std::string user, password;
  if (uses_sasl(*protocol)) {
    const std::string mechanism = setting(props, "sasl.mechanism");
    login.mechanisms = mechanism.empty() ? std::vector<std::string>{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
                                         : std::vector<std::string>{mechanism};
    if (login_mechanisms(login.mechanisms).empty())
      throw CommandConfigError("--command-config: sasl.mechanism=" + mechanism +
                               ": the tools log in with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    user = setting(props, "sasl.username");
    password = setting(props, "sasl.password");
    if (auto jaas = props.find("sasl.jaas.config"); jaas != props.end()) {
      // The same reading of the JAAS line as the broker's inter-broker login.
      auto options = parse_jaas_options(jaas->second);
      if (!options) throw CommandConfigError("--command-config: sasl.jaas.config is not a JAAS configuration line");
      if (auto it = options->find("username"); it != options->end()) user = it->second;
      if (auto it = options->find("password"); it != options->end()) password = it->second;
    }
    if (user.empty()) throw CommandConfigError("--command-config: no SASL user (sasl.jaas.config or sasl.username)");
  }
  if (uses_tls(*protocol)) {
    TlsConfig tls = tls_settings(props);
    if (tls.truststore_location.empty())
      throw CommandConfigError("--command-config: security.protocol=" + protocol_name +
                               " needs ssl.truststore.location (the CAs the broker's certificate is checked against)");
    try {
      login.tls = std::make_shared<security::TlsContextSource>(std::move(tls), security::TlsSide::kClient);
    } catch (const std::exception& e) {
      throw CommandConfigError(std::string("--command-config: ") + e.what());
    }
  }
  return
      [login, user, password](const std::string& address) { return connect_as_user(login, address, user, password); };
}

}  // namespace runnel::app
