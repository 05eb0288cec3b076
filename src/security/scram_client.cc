#include "security/scram_client.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>

#include "security/scram_primitives.h"

namespace runnel::security {
namespace {

std::string random_client_nonce() {
  std::array<uint8_t, 24> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64_encode(random);
}

}  // namespace

std::optional<ServerFirst> parse_server_first(std::string_view message) {
  // Exactly r, s, i in this order, then optional extensions (RFC 5802 7).
  std::vector<std::string_view> parts = split_scram_attrs(message);
  if (parts.size() < 3) return std::nullopt;
  auto nonce = scram_attr(parts[0], 'r');
  auto salt = scram_attr(parts[1], 's');
  auto iterations = scram_attr(parts[2], 'i');
  if (!nonce || !salt || !iterations || nonce->empty() || !scram_printable(*nonce)) return std::nullopt;
  ServerFirst out;
  out.nonce = std::string(*nonce);
  auto decoded = base64_decode(*salt);
  if (!decoded || decoded->empty()) return std::nullopt;
  out.salt = std::move(*decoded);
  const char* end = iterations->data() + iterations->size();
  auto [ptr, ec] = std::from_chars(iterations->data(), end, out.iterations);
  if (ec != std::errc() || ptr != end || iterations->empty() || out.iterations <= 0) return std::nullopt;
  for (size_t i = 3; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    if (eq != 1) return std::nullopt;
    if (parts[i][0] == 'm') return std::nullopt;  // a mandatory extension we cannot know
  }
  return out;
}

std::optional<ServerFinal> parse_server_final(std::string_view message) {
  // Extensions may follow the first attribute; only the first one counts.
  auto first = message.substr(0, message.find(','));
  ServerFinal out;
  if (auto e = scram_attr(first, 'e')) {
    if (e->empty()) return std::nullopt;
    out.error = std::string(*e);
    return out;
  }
  auto v = scram_attr(first, 'v');
  if (!v) return std::nullopt;
  auto signature = base64_decode(*v);
  if (!signature || signature->empty()) return std::nullopt;
  out.signature = std::move(*signature);
  return out;
}

ScramClient::ScramClient(ScramMechanism m, std::string username, std::string password, std::string nonce)
    : mechanism_(m),
      username_(std::move(username)),
      password_(std::move(password)),
      nonce_(nonce.empty() ? random_client_nonce() : std::move(nonce)) {}

std::string ScramClient::first() {
  stage_ = 1;
  client_first_bare_ = "n=" + encode_saslname(username_) + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

std::optional<std::string> ScramClient::final(std::string_view server_first, std::string& error) {
  if (stage_ != 1) {
    error = "server-first-message out of order";
    return std::nullopt;
  }
  stage_ = 2;
  auto parsed = parse_server_first(server_first);
  if (!parsed) {
    error = "malformed server-first-message";
    return std::nullopt;
  }
  // The server's nonce extends ours: a reply to this exchange, not a replay.
  if (parsed->nonce.size() <= nonce_.size() || !parsed->nonce.starts_with(nonce_)) {
    error = "server nonce does not extend the client nonce";
    return std::nullopt;
  }
  if (parsed->iterations < kMinIterations || parsed->iterations > kMaxIterations) {
    error = "server asks for " + std::to_string(parsed->iterations) + " iterations, outside " +
            std::to_string(kMinIterations) + ".." + std::to_string(kMaxIterations);
    return std::nullopt;
  }
  auto salted = scram_salted_password(mechanism_, password_, parsed->salt, parsed->iterations);
  // c=biws is base64("n,,"): no channel binding, no authzid, as Kafka's client.
  std::string without_proof = "c=biws,r=" + parsed->nonce;
  std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  auto client_key = scram_hmac(mechanism_, salted, "Client Key");
  auto stored_key = scram_hash(mechanism_, client_key);
  auto client_signature = scram_hmac(mechanism_, stored_key, auth_message);
  std::vector<uint8_t> proof(client_key.size());
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ client_signature[i];
  auto server_key = scram_hmac(mechanism_, salted, "Server Key");
  expected_server_signature_ = scram_hmac(mechanism_, server_key, auth_message);
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return without_proof + ",p=" + base64_encode(proof);
}

bool ScramClient::verify(std::string_view server_final, std::string& error) {
  if (stage_ != 2 || expected_server_signature_.empty()) {
    error = "server-final-message out of order";
    return false;
  }
  stage_ = 3;
  auto parsed = parse_server_final(server_final);
  if (!parsed) {
    error = "malformed server-final-message";
    return false;
  }
  if (!parsed->error.empty()) {
    error = "server error: " + parsed->error;
    return false;
  }
  if (!scram_equal(parsed->signature, expected_server_signature_)) {
    error = "invalid server signature";
    return false;
  }
  return true;
}

}  // namespace runnel::security
