// SASL messages from unauthenticated clients: the PLAIN message parser, the
// SCRAM client-first and client-final parsers, a whole SCRAM server exchange
// fed arbitrary tokens, and the admin listener's HTTP Basic header. And what
// a broker's SASL client reads from a peer: the SCRAM server-first and
// server-final parsers, a whole client exchange fed arbitrary server tokens,
// and the JAAS line of its login. Any input must give a result or a refusal,
// never a crash, and never an authenticated user (or an accepted server).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "config/jaas.h"
#include "security/basic_auth.h"
#include "security/sasl_client.h"
#include "security/sasl_server.h"
#include "security/scram.h"
#include "security/scram_client.h"

using namespace runnel::security;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto plain = parse_plain(bytes)) {
    if (plain->username.empty() || plain->password.empty()) __builtin_trap();
  }
  if (auto first = parse_client_first(text)) {
    if (first->nonce.empty() || first->username.empty()) __builtin_trap();
    if (first->gs2_header.size() + first->bare.size() != size) __builtin_trap();
  }
  if (auto final_msg = parse_client_final(text)) {
    if (final_msg->proof.empty() || final_msg->nonce.empty()) __builtin_trap();
  }
  // No user exists: no Authorization header may authenticate.
  static CredentialStore empty_store(nullptr, "/nonexistent/scram-credentials");
  if (basic_auth_user(text, empty_store)) __builtin_trap();
  if (auto decoded = base64_decode(text)) {
    if (base64_decode(base64_encode(*decoded)) != decoded) __builtin_trap();
  }
  // A SCRAM exchange for a user that has a credential: the first half of the
  // input is client-first, the rest client-final. Forging a proof is out of
  // a fuzzer's reach, so it must never succeed.
  static const ScramCredential credential =
      make_credential(ScramMechanism::kSha256, "password", std::vector<uint8_t>(16, 7), kMinIterations);
  ScramServer server(ScramMechanism::kSha256,
                     [](const std::string&) -> std::optional<ScramCredential> { return credential; });
  auto first = server.step(text.substr(0, size / 2));
  if (first.outcome == ScramServer::Outcome::kDone) __builtin_trap();
  if (first.outcome == ScramServer::Outcome::kContinue &&
      server.step(text.substr(size / 2)).outcome == ScramServer::Outcome::kDone)
    __builtin_trap();
  // The client side: a server-first (first half) and a server-final (the
  // rest). Signing needs the credential, so the client must never accept.
  if (auto sf = parse_server_first(text)) {
    if (sf->nonce.empty() || sf->salt.empty() || sf->iterations <= 0) __builtin_trap();
  }
  if (auto sfinal = parse_server_final(text)) {
    if (sfinal->signature.empty() == sfinal->error.empty()) __builtin_trap();
  }
  // A fixed client nonce the input may extend; the iterations the input
  // names are bounded by the client (kMaxIterations), so no input is slow.
  ScramClient client(ScramMechanism::kSha256, "broker", "secret", "fuzz");
  client.first();
  std::string error;
  if (client.final(text.substr(0, size / 2), error) && client.verify(text.substr(size / 2), error)) __builtin_trap();
  SaslClient sasl("SCRAM-SHA-512", "broker", "secret");
  sasl.start();
  auto bytes_half = bytes.subspan(0, size / 2);
  if (sasl.step(bytes_half).outcome == SaslClient::Outcome::kContinue &&
      sasl.step(bytes.subspan(size / 2)).outcome == SaslClient::Outcome::kDone)
    __builtin_trap();
  if (auto options = runnel::parse_jaas_options(text)) {
    for (const auto& [key, value] : *options)
      if (key.empty()) __builtin_trap();
  }
  return 0;
}
