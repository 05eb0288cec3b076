#pragma once
// Kafka's keystore and truststore settings, read into an OpenSSL context:
//   - ssl.keystore.type PEM: ssl.keystore.location (a PEM file with the key
//     and its chain, the key encrypted with ssl.key.password or not) or the
//     inline ssl.keystore.key and ssl.keystore.certificate.chain;
//   - ssl.keystore.type PKCS12 (Java's default store type since Java 9): a
//     .p12 file opened with ssl.keystore.password, holding the key, its
//     certificate and the rest of the chain;
//   - ssl.truststore.type PEM (a CA bundle) or PKCS12 (every certificate in
//     the store is trusted; ssl.truststore.password may be empty, as Java's
//     keytool allows for a store of certificates only).
// A PKCS12 file written with the legacy algorithms (RC2, 3DES: OpenSSL 1.1
// and Java 8's keytool) is read through OpenSSL's legacy provider, loaded
// the first time one needs it. JKS is Java's own format: refused by the
// config parser, with the keytool command that converts it.
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

}  // namespace runnel::security
