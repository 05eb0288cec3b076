// SASL messages from unauthenticated clients: the PLAIN message parser, the
// SCRAM client-first and client-final parsers, and a whole SCRAM server
// exchange fed arbitrary tokens. Any input must give a result or a refusal,
// never a crash, and never an authenticated user.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "security/sasl_server.h"
#include "security/scram.h"

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
  return 0;
}
