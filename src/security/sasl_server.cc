#include "security/sasl_server.h"

namespace runnel::security {

bool is_known_mechanism(std::string_view mechanism) {
  return mechanism == "PLAIN" || parse_mechanism(mechanism).has_value();
}

std::optional<PlainMessage> parse_plain(std::span<const uint8_t> token) {
  std::string_view text(reinterpret_cast<const char*>(token.data()), token.size());
  auto first = text.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = text.find('\0', first + 1);
  if (second == std::string_view::npos || text.find('\0', second + 1) != std::string_view::npos) return std::nullopt;
  PlainMessage m{std::string(text.substr(0, first)), std::string(text.substr(first + 1, second - first - 1)),
                 std::string(text.substr(second + 1))};
  if (m.username.empty() || m.password.empty()) return std::nullopt;
  return m;
}

SaslServer::SaslServer(std::string mechanism, const CredentialStore& store)
    : mechanism_(std::move(mechanism)), store_(store) {
  if (auto m = parse_mechanism(mechanism_)) {
    scram_ =
        std::make_unique<ScramServer>(*m, [this, m = *m](const std::string& user) { return store_.find(user, m); });
  }
}

SaslServer::Step SaslServer::fail(std::string reason) {
  finished_ = true;
  // Kafka's messages: PlainSaslServer's own, and SaslServerAuthenticator's
  // for a SCRAM exchange that fails.
  std::string message = scram_ ? "Authentication failed during authentication due to invalid credentials with SASL "
                                 "mechanism " +
                                     mechanism_
                               : "Authentication failed: Invalid username or password";
  return {Outcome::kFailed, {}, std::move(message), std::move(reason)};
}

SaslServer::Step SaslServer::step(std::span<const uint8_t> token) {
  if (finished_) return fail("token after the end of the exchange");
  if (scram_) {
    std::string_view text(reinterpret_cast<const char*>(token.data()), token.size());
    auto s = scram_->step(text);
    if (!scram_->username().empty()) username_ = scram_->username();
    if (s.outcome == ScramServer::Outcome::kFailed) return fail(s.reason);
    if (s.outcome == ScramServer::Outcome::kDone) finished_ = true;
    return {s.outcome == ScramServer::Outcome::kDone ? Outcome::kDone : Outcome::kContinue,
            std::vector<uint8_t>(s.response.begin(), s.response.end()), "", ""};
  }
  auto plain = parse_plain(token);
  if (!plain) return fail("malformed PLAIN message");
  username_ = plain->username;
  if (!plain->authzid.empty() && plain->authzid != plain->username)
    return fail("authorization id differs from the username");
  // Checked against the user's SCRAM credential, the stronger one first.
  bool ok = false;
  bool known = false;
  for (auto m : {ScramMechanism::kSha512, ScramMechanism::kSha256}) {
    auto credential = store_.find(plain->username, m);
    if (!credential) continue;
    known = true;
    ok = password_matches(m, *credential, plain->password);
    break;
  }
  if (!ok) return fail(known ? "invalid password" : "unknown user");
  finished_ = true;
  return {Outcome::kDone, {}, "", ""};
}

}  // namespace runnel::security
