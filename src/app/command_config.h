#pragma once
// The command-line tools' `--command-config FILE`: a Kafka client properties
// file, as kafka-topics.sh and the other Kafka tools take it, read into the
// Dialer (app/admin_client.h) through which every AdminClient of the command
// reaches a broker:
//   security.protocol  PLAINTEXT (the default: plain TCP), SSL, SASL_PLAINTEXT
//                      or SASL_SSL;
//   ssl.*              the truststore (required for TLS: the broker's chain is
//                      checked against it, and its name per
//                      ssl.endpoint.identification.algorithm), and a keystore
//                      for a listener that requires client certificates; PEM,
//                      PKCS12 or JKS, read as the broker reads its own
//                      (security/keystore.h);
//   sasl.mechanism     PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (unset: each in
//                      turn), with the login from sasl.jaas.config (or
//                      sasl.username and sasl.password).
// A setting the tools cannot honour (GSSAPI, OAUTHBEARER, an unknown
// protocol) is an error that names it, never silently plaintext.
//
// Thread-safety: the Dialer may be called from any thread.
#include <stdexcept>
#include <string>

#include "app/admin_client.h"

namespace runnel::app {

// A command-config file's fault; the tools exit with usage status 2.
struct CommandConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The Dialer `path` describes; empty for PLAINTEXT (the tools dial TCP).
// Throws CommandConfigError for what it cannot honour, and for stores that
// do not load.
Dialer command_config_dialer(const std::string& path);

}  // namespace runnel::app
