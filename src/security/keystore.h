#pragma once
// Kafka's keystore and truststore settings, read into an OpenSSL context:
//   - PEM: ssl.keystore.location (a PEM file with the key and its chain, the
//     key encrypted with ssl.key.password or not) or the inline
//     ssl.keystore.key and ssl.keystore.certificate.chain; a truststore is a
//     CA bundle;
//   - PKCS12 (Java's default store type since Java 9): a .p12 file opened
//     with ssl.keystore.password, holding the key, its certificate and the
//     rest of the chain; as a truststore every certificate in it is trusted;
//   - JKS (Kafka's default type, security/jks.h): the first private key
//     entry, unprotected with ssl.key.password (else the store password),
//     and its chain; as a truststore its trusted certificate entries, as
//     Java takes them.
// The file decides between the binary formats, as Java's JKS and PKCS12
// types each read both; the PEM type (runnel's default) reads them too, so
// a Kafka config relying on Kafka's default type works. A store password
// may be empty for a truststore (PKCS12 without a MAC; JKS without the
// integrity check, as Java loads one with a null password).
// A PKCS12 file written with the legacy algorithms (RC2, 3DES: OpenSSL 1.1
// and Java 8's keytool) is read through OpenSSL's legacy provider, loaded
// the first time one needs it.
//
// Thread-safety: stateless functions; each writes only the context given.
#include <asio/ssl.hpp>

#include "config/broker_config.h"

namespace runnel::security {

// The certificate chain this side presents and its private key. Throws
// std::runtime_error naming the setting and file that are wrong.
void use_keystore(asio::ssl::context& ctx, const TlsConfig& config);

// Trusts the truststore's certificates for verifying the peer; on a server
// (`client_ca_names`), also offers their subjects as the CAs a client may
// choose its certificate by. Throws std::runtime_error as use_keystore.
void use_truststore(asio::ssl::context& ctx, const TlsConfig& config, bool client_ca_names);

// Whether the truststore is a PEM file (a CA bundle other TLS clients can
// take as their CA file), whatever its declared type.
bool truststore_is_pem(const TlsConfig& config);

}  // namespace runnel::security
