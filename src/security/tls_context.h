#pragma once
// The OpenSSL contexts built from Kafka's ssl.* configuration (PEM keystore
// and truststore, ssl.client.auth, ssl.enabled.protocols, ssl.cipher.suites,
// ssl.endpoint.identification.algorithm): the server side of the SSL and
// SASL_SSL listeners, and the client side a broker uses to reach the other
// brokers' inter-broker listener (it verifies the peer's chain against the
// truststore and, with `https`, its name or IP address, and presents the
// broker's own keystore certificate for mutual TLS). Also the principal a
// peer certificate maps to (Kafka's DefaultKafkaPrincipalBuilder: "User:" and
// the subject in RFC 2253 form, e.g. "User:CN=alice,O=runnel").
//
// TlsContextSource holds one side's context and rebuilds it when the
// keystore or truststore files change (reload_if_changed(), polled by the
// broker): connections made after that use the new one, open ones keep theirs.
//
// Thread-safety: a context, once built, is shared read-only by the
// connections of every shard (OpenSSL allows SSL_new on one SSL_CTX from any
// thread); TlsContextSource's methods may be called from any thread.
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "config/broker_config.h"

namespace runnel::security {

enum class TlsSide { kServer, kClient };

// Throws std::runtime_error naming the file or setting that is wrong. The
// client side needs ssl.truststore.location (it verifies every peer); its
// keystore, when set, is the certificate it presents.
std::shared_ptr<asio::ssl::context> make_tls_context(const TlsConfig& config, TlsSide side);

// Whether ssl.endpoint.identification.algorithm asks for the peer's name to
// be checked (Kafka's default "https"; empty turns it off).
bool verifies_endpoint(const TlsConfig& config);

// On a client connection, before its handshake: SNI (for a DNS name), and,
// when `verify_endpoint`, the DNS name or IP address the peer's certificate
// must carry (subjectAltName; a DNS name falls back to the CN when the
// certificate has no DNS name, as Java's HTTPS check does). False, with
// `error` set, when OpenSSL refused the name.
bool expect_peer_identity(SSL* ssl, const std::string& host, bool verify_endpoint, std::string* error);

// Why a client handshake failed, for the log: the certificate verification
// error when there was one (with the setting to look at), else `ec`'s text.
std::string describe_handshake_failure(SSL* ssl, const std::error_code& ec, const std::string& host,
                                       const TlsConfig& config);
// The text for a certificate verification result (X509_V_ERR_*) on a
// connection to `host`: what went wrong and which setting decides it.
std::string describe_verify_error(long verify_result, const std::string& host, const TlsConfig& config);

// The principal of the peer's verified certificate under Kafka's DEFAULT
// mapping ("User:" and its subject); nullopt when it sent none.
std::optional<std::string> certificate_principal(SSL* ssl);
// The subject of the peer's verified certificate in RFC 2253 form (what
// ssl.principal.mapping.rules maps); nullopt when it sent none.
std::optional<std::string> certificate_subject(SSL* ssl);

class TlsContextSource {
 public:
  // Builds the context now (throws as make_tls_context).
  TlsContextSource(TlsConfig config, TlsSide side);
  std::shared_ptr<asio::ssl::context> current() const;
  const TlsConfig& config() const { return config_; }
  TlsSide side() const { return side_; }

  enum class Reload { kUnchanged, kReloaded, kFailed };
  // Rebuilds the context if a keystore or truststore file's modification
  // time or size changed since it was last read. kFailed (with `error`):
  // the new files do not load, and the old context stays in use (the files
  // are tried again once they change again).
  Reload reload_if_changed(std::string* error);

 private:
  struct Stamp {
    std::filesystem::file_time_type mtime{};
    uintmax_t size = 0;
    bool exists = false;
    bool operator==(const Stamp&) const = default;
  };
  std::vector<Stamp> stamps() const;

  const TlsConfig config_;
  const TlsSide side_;
  std::vector<std::string> files_;  // the files the context is read from
  mutable std::mutex mutex_;
  std::shared_ptr<asio::ssl::context> context_;  // guarded by mutex_
  std::vector<Stamp> loaded_;                    // guarded by mutex_: the files as last tried
};

}  // namespace runnel::security
