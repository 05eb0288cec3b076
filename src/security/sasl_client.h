#pragma once
// The client side of one SASL authentication, whatever the mechanism: PLAIN
// (RFC 4616: one token, the server's empty answer ends it) or
// SCRAM-SHA-256/512 (security/scram_client.h: client-first, client-final, and
// the server's signature checked). The caller carries the tokens (in Kafka,
// SaslAuthenticate requests); this only computes them. What a broker uses to
// authenticate to the other brokers' inter-broker listener.
// Thread-safety: one connection's; used on one thread.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "security/scram_client.h"

namespace runnel::security {

class SaslClient {
 public:
  // `mechanism`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (is_known_mechanism).
  SaslClient(std::string mechanism, std::string username, std::string password);

  enum class Outcome { kContinue, kDone, kFailed };
  struct Step {
    Outcome outcome;
    std::vector<uint8_t> token;  // to send (kContinue)
    std::string error;           // why (kFailed), for the log
  };
  // The first token.
  Step start();
  // The server's answer to the last token sent: the next token to send,
  // done (authenticated, and for SCRAM the server proved it knows the
  // credential), or failed.
  Step step(std::span<const uint8_t> server_token);
  const std::string& mechanism() const { return mechanism_; }

 private:
  std::string mechanism_;
  std::string username_;
  std::string password_;
  std::unique_ptr<ScramClient> scram_;
  int stage_ = 0;  // 0: not started, 1: first sent, 2: final sent (SCRAM), 3: finished
};

}  // namespace runnel::security
