#pragma once
// The server side of one SASL authentication, whatever the mechanism: PLAIN
// (RFC 4616, checked against the user's SCRAM credential) or SCRAM-SHA-256/512
// (security/scram.h). Fed the client's tokens one by one, it answers each and
// ends done (with the authenticated user) or failed. Failures carry Kafka's
// message for the client, which never says which part was wrong, and a reason
// for the broker's log.
// Thread-safety: one connection's; used on one thread. The CredentialStore
// must outlive it.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "security/credential_store.h"
#include "security/scram.h"

namespace runnel::security {

// "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
bool is_known_mechanism(std::string_view mechanism);

struct PlainMessage {
  std::string authzid;
  std::string username;
  std::string password;
};
// authzid NUL authcid NUL passwd; nullopt when malformed (not three parts,
// an empty username or password).
std::optional<PlainMessage> parse_plain(std::span<const uint8_t> token);

class SaslServer {
 public:
  // `mechanism` must be a known one.
  SaslServer(std::string mechanism, const CredentialStore& store);

  enum class Outcome { kContinue, kDone, kFailed };
  struct Step {
    Outcome outcome;
    std::vector<uint8_t> response;
    std::string error_message;  // Kafka's, for the client (kFailed)
    std::string reason;         // for the log (kFailed)
  };
  Step step(std::span<const uint8_t> token);
  const std::string& mechanism() const { return mechanism_; }
  // The user that authenticated (after kDone), or who tried (for the log).
  const std::string& username() const { return username_; }

 private:
  Step fail(std::string reason);
  std::string mechanism_;
  const CredentialStore& store_;
  std::unique_ptr<ScramServer> scram_;
  std::string username_;
  bool finished_ = false;
};

}  // namespace runnel::security
