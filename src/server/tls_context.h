#pragma once
// The OpenSSL server context of the SSL and SASL_SSL listeners, built from
// Kafka's ssl.* configuration (PEM keystore and truststore, ssl.client.auth,
// ssl.enabled.protocols, ssl.cipher.suites), and the principal a client
// certificate maps to (Kafka's DefaultKafkaPrincipalBuilder: "User:" and the
// subject in RFC 2253 form, e.g. "User:CN=alice,O=runnel").
//
// Certificates are read once at start-up; changed files are not reloaded.
// Thread-safety: the context is built once and then shared, read-only, by the
// connections of every shard (OpenSSL allows SSL_new on one SSL_CTX from any
// thread).
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>

#include "config/broker_config.h"

namespace runnel {

// Throws std::runtime_error naming the file or setting that is wrong.
std::shared_ptr<asio::ssl::context> make_tls_context(const TlsConfig& config);

// The principal of the peer's verified certificate; nullopt when it sent none.
std::optional<std::string> certificate_principal(SSL* ssl);

}  // namespace runnel
