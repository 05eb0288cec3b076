#pragma once
// Who is on the other end of one client connection, and how far its
// authentication has got: the listener it came in on, its principal
// ("User:alice", "User:CN=client,O=runnel", "User:ANONYMOUS") for a future
// authorizer, and the SASL exchange in progress on a SASL listener.
// Thread-safety: one connection's; used on that connection's shard only.
#include <cstdint>
#include <memory>
#include <string>

#include "config/broker_config.h"
#include "security/sasl_server.h"

namespace runnel::security {

inline constexpr const char* kAnonymous = "User:ANONYMOUS";

struct Session {
  std::string listener;  // listener name, e.g. "SASL_SSL"
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;
  std::string principal = kAnonymous;
  // False on a SASL listener until SaslAuthenticate succeeds: until then only
  // ApiVersions, SaslHandshake and SaslAuthenticate are served.
  bool authenticated = true;
  // Set by a successful SaslHandshake; the exchange SaslAuthenticate feeds.
  std::unique_ptr<SaslServer> sasl;
  // SaslHandshake v0 (kafka-python): the next frames are bare SASL tokens,
  // size-prefixed, without request or response headers.
  bool raw_tokens = false;
  // Authentication failed: close once the answer is out.
  bool close_after_response = false;
  // When the SASL session ends (connections.max.reauth.ms, KIP-368), in ms
  // since the epoch; 0: never. After it only a re-authentication is served.
  int64_t expires_at_ms = 0;
};

}  // namespace runnel::security
