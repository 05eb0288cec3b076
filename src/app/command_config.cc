#include "app/command_config.h"

#include <fstream>
#include <memory>

#include "app/config.h"
#include "app/peer_login.h"
#include "config/config_error.h"
#include "config/jaas.h"
#include "security/tls_context.h"

namespace runnel::app {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

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

}  // namespace

std::map<std::string, std::string> read_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CommandConfigError("cannot read --command-config " + path);
  std::map<std::string, std::string> props;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos) continue;
    props[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return props;
}

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
