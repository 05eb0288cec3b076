#pragma once
// How the REST proxy and the console reach another broker of the cluster as
// the HTTP Basic user when the listener they use is secured: a TCP
// connection to the peer's address on that listener, the TLS handshake
// (SASL_SSL: the peer's chain checked against the listener's truststore,
// its name per ssl.endpoint.identification.algorithm, as the inter-broker
// connections do; security/tls_context.h), then a SASL login with the
// user's name and the password of the HTTP request being served (PLAIN when
// the listener enables it, else SCRAM-SHA-256, then SCRAM-SHA-512 on a new
// connection when the user has no SHA-256 credential), so the peer sees
// that user and applies their ACLs. The password is used for this login
// and not kept.
//
// The result is a socket the blocking AdminClient reads and writes as it
// would a TCP connection to the broker: on SASL_PLAINTEXT the TCP socket
// itself; on SASL_SSL one end of a socket pair whose other end a small
// thread relays through the TLS session, until either side closes.
//
// Thread-safety: connect_as_user may be called from any thread.
#include <memory>
#include <string>
#include <vector>

#include "config/broker_config.h"

namespace runnel::security {
class TlsContextSource;
}

namespace runnel::app {

struct PeerLogin {
  SecurityProtocol protocol = SecurityProtocol::kSaslSsl;  // SASL_PLAINTEXT, SASL_SSL, or SSL (no login)
  std::vector<std::string> mechanisms;                     // sasl.enabled.mechanisms
  std::shared_ptr<const security::TlsContextSource> tls;   // client side; needed for SASL_SSL
};

// The SASL mechanisms a login tries among `enabled`, in order: PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512.
std::vector<std::string> login_mechanisms(const std::vector<std::string>& enabled);

// A socket logged in to `address` (HOST:PORT) as `username` (on SSL: the
// TLS session alone, the user and password unused); throws AdminError
// saying what failed (connect, TLS, SASL).
int connect_as_user(const PeerLogin& login, const std::string& address, const std::string& username,
                    const std::string& password);

}  // namespace runnel::app
