#pragma once
// Reading the broker's configuration: Kafka's property names, from a
// server.properties style file and from --set key=value. Unknown keys and
// malformed values are refused with a message that names the key. The values
// themselves are config/broker_config.h; topic configs are
// config/topic_config.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/broker_config.h"
#include "config/config_error.h"

namespace runnel {

// Applies one key=value; throws ConfigError naming the key when it is
// unknown or its value is invalid.
void set_config(BrokerConfig& c, const std::string& key, const std::string& value);
// One line of a Java properties file: `key=value` or `key:value`, both
// trimmed (`value` nullopt for a line with neither separator; the whole line
// is then the key). Blank lines and # or ! comments are not lines here.
struct PropertyLine {
  int number = 0;  // from 1
  std::string key;
  std::optional<std::string> value;
};
// The lines of a properties file; nullopt if it cannot be read.
std::optional<std::vector<PropertyLine>> read_property_lines(const std::string& path);
// Reads a server.properties file (key=value lines, # and ! comments).
void load_config_file(BrokerConfig& c, const std::string& path);
// Turns listeners, advertised.listeners and listener.security.protocol.map
// into c.listeners, applying --listen (the PLAINTEXT listener's address) and
// --advertise (the inter-broker listener's advertised address) when not
// empty. Throws ConfigError naming the key.
void resolve_listeners(BrokerConfig& c, const std::string& listen_flag = "", const std::string& advertise_flag = "");
// Checks cross-key constraints after everything is set (and resolved).
void validate_config(const BrokerConfig& c);

// host:port ([v6]:port; an empty host is every address); throws ConfigError
// naming `key` when it is not.
std::pair<std::string, uint16_t> parse_host_port(const std::string& key, const std::string& value);
// runnel.admin.listen: [http://|https://]host:port. https serves the admin
// listener over TLS with the ssl.keystore.* certificate. Throws ConfigError.
struct AdminListen {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
};
AdminListen parse_admin_listen(const std::string& value);
// Every key the broker understands, for --help.
std::vector<std::string> known_config_keys();
// Kafka's settings taken without effect (with a warning), and
// controller.listener.names, for --help.
std::vector<std::string> kafka_settings_taken_without_use();

}  // namespace runnel
