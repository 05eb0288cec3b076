#pragma once
// The options of a JAAS configuration line as Kafka takes it in
// sasl.jaas.config:
//   org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="secret";
// runnel has no login modules: it reads the options (username and password,
// for the client side of SASL) and ignores the module's name and flag.
// Thread-safety: pure functions.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace runnel {

// key -> value of every option, quotes removed ("\"" and "\\" unescaped in
// quoted values); nullopt when the line is malformed (no module name, an
// option without '=', an unterminated quote).
std::optional<std::map<std::string, std::string>> parse_jaas_options(std::string_view jaas);

}  // namespace runnel
