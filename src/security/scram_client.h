#pragma once
// The client side of one SCRAM exchange (RFC 5802, RFC 7677), as a broker
// uses it to authenticate to another broker: client-first, then client-final
// computed from the server's salt and iterations, then the server's signature
// checked, so that a server that does not know the credential cannot pose as
// the peer. The hashing and the message grammar are
// security/scram_primitives.h's, shared with ScramServer.
// Thread-safety: one exchange's; used on one thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/scram.h"

namespace runnel::security {

// server-first-message: r=<client nonce + server nonce>,s=<salt>,i=<iterations>[,ext...]
struct ServerFirst {
  std::string nonce;
  std::vector<uint8_t> salt;
  int32_t iterations = 0;
};
// nullopt when malformed: attributes out of order, a mandatory extension
// (m=), bad base64, an empty salt, iterations that are not a positive
// decimal number. Reads bytes from the network: never throws.
std::optional<ServerFirst> parse_server_first(std::string_view message);

// server-final-message: v=<server signature> or e=<server error>.
struct ServerFinal {
  std::vector<uint8_t> signature;  // empty when the server sent an error
  std::string error;               // the e= value
};
std::optional<ServerFinal> parse_server_final(std::string_view message);

class ScramClient {
 public:
  // `nonce` empty: a fresh random one (tests pass their own).
  ScramClient(ScramMechanism m, std::string username, std::string password, std::string nonce = {});

  // client-first-message ("n,,n=<user>,r=<nonce>").
  std::string first();
  // client-final-message for the server's first message, or nullopt with
  // `error` set when it is malformed, does not extend our nonce, or asks
  // for fewer iterations than Kafka allows (or more than it allows, which
  // would make this broker spend seconds per attempt).
  std::optional<std::string> final(std::string_view server_first, std::string& error);
  // True when the server-final-message carries the signature only a server
  // that holds our credential can compute; else false with `error` set.
  bool verify(std::string_view server_final, std::string& error);

 private:
  ScramMechanism mechanism_;
  std::string username_;
  std::string password_;
  std::string nonce_;
  std::string client_first_bare_;
  std::vector<uint8_t> expected_server_signature_;
  int stage_ = 0;
};

}  // namespace runnel::security
