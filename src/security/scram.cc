#include "security/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "security/scram_primitives.h"

namespace runnel::security {
namespace {

// The per-process secret from which the decoy credentials of unknown users
// are derived: the same user always gets the same decoy salt, so repeated
// attempts do not reveal that the user does not exist.
const std::array<uint8_t, 32>& decoy_key() {
  static const std::array<uint8_t, 32> key = [] {
    std::array<uint8_t, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    return k;
  }();
  return key;
}

}  // namespace

std::string_view mechanism_name(ScramMechanism m) {
  return m == ScramMechanism::kSha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
}

std::optional<ScramMechanism> parse_mechanism(std::string_view name) {
  if (name == "SCRAM-SHA-256") return ScramMechanism::kSha256;
  if (name == "SCRAM-SHA-512") return ScramMechanism::kSha512;
  return std::nullopt;
}

std::optional<ScramMechanism> mechanism_from_type(int8_t type) {
  if (type == 1) return ScramMechanism::kSha256;
  if (type == 2) return ScramMechanism::kSha512;
  return std::nullopt;
}

ScramCredential credential_from_salted(ScramMechanism m, std::span<const uint8_t> salted, std::span<const uint8_t> salt,
                                       int32_t iterations) {
  auto client_key = scram_hmac(m, salted, "Client Key");
  ScramCredential c;
  c.salt.assign(salt.begin(), salt.end());
  c.iterations = iterations;
  c.stored_key = scram_hash(m, client_key);
  c.server_key = scram_hmac(m, salted, "Server Key");
  return c;
}

ScramCredential make_credential(ScramMechanism m, std::string_view password, std::span<const uint8_t> salt,
                                int32_t iterations) {
  auto salted = scram_salted_password(m, password, salt, iterations);
  auto c = credential_from_salted(m, salted, salt, iterations);
  OPENSSL_cleanse(salted.data(), salted.size());
  return c;
}

std::vector<uint8_t> random_salt() {
  std::vector<uint8_t> salt(32);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return salt;
}

bool password_matches(ScramMechanism m, const ScramCredential& credential, std::string_view password) {
  if (credential.iterations < 1 || credential.iterations > kMaxIterations) return false;
  auto derived = make_credential(m, password, credential.salt, credential.iterations);
  return scram_equal(derived.stored_key, credential.stored_key);
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=' && i + 2 >= text.size() && padding < 2 && (i + 1 == text.size() || text[i + 1] == '=')) {
      ++padding;
      continue;
    }
    if (!ok || padding > 0) return std::nullopt;
  }
  std::vector<uint8_t> out(text.size() / 4 * 3 + 1);
  int n =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::optional<ClientFirst> parse_client_first(std::string_view message) {
  // gs2-header: cbind-flag "," [authzid] ","
  auto first = message.find(',');
  if (first == std::string_view::npos) return std::nullopt;
  auto flag = message.substr(0, first);
  if (flag != "n" && flag != "y") return std::nullopt;  // "p=...": channel binding, which Kafka does not do
  auto second = message.find(',', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  ClientFirst out;
  auto authz = message.substr(first + 1, second - first - 1);
  if (!authz.empty()) {
    auto value = scram_attr(authz, 'a');
    if (!value) return std::nullopt;
    auto decoded = decode_saslname(*value);
    if (!decoded || decoded->empty()) return std::nullopt;
    out.authzid = *decoded;
  }
  out.gs2_header = std::string(message.substr(0, second + 1));
  out.bare = std::string(message.substr(second + 1));
  auto parts = split_scram_attrs(out.bare);
  if (parts.size() < 2) return std::nullopt;
  auto user = scram_attr(parts[0], 'n');
  auto nonce = scram_attr(parts[1], 'r');
  if (!user || !nonce || nonce->empty() || !scram_printable(*nonce)) return std::nullopt;
  auto decoded = decode_saslname(*user);
  if (!decoded || decoded->empty()) return std::nullopt;
  out.username = *decoded;
  out.nonce = std::string(*nonce);
  // Extensions (RFC 5802 leaves them open; Kafka knows tokenauth).
  for (size_t i = 2; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    if (parts[i].substr(0, eq) == "tokenauth") out.token_auth = parts[i].substr(eq + 1) == "true";
  }
  return out;
}

std::optional<ClientFinal> parse_client_final(std::string_view message) {
  auto p = message.rfind(",p=");
  if (p == std::string_view::npos) return std::nullopt;
  ClientFinal out;
  out.without_proof = std::string(message.substr(0, p));
  auto proof = base64_decode(message.substr(p + 3));
  if (!proof || proof->empty()) return std::nullopt;
  out.proof = std::move(*proof);
  auto parts = split_scram_attrs(out.without_proof);
  if (parts.size() < 2) return std::nullopt;
  auto binding = scram_attr(parts[0], 'c');
  auto nonce = scram_attr(parts[1], 'r');
  if (!binding || !nonce || nonce->empty() || !scram_printable(*nonce)) return std::nullopt;
  out.channel_binding = std::string(*binding);
  out.nonce = std::string(*nonce);
  for (size_t i = 2; i < parts.size(); ++i)
    if (parts[i].find('=') == std::string_view::npos) return std::nullopt;
  return out;
}

ScramServer::Step ScramServer::step(std::string_view message) {
  if (stage_ == 0) {
    stage_ = 1;
    auto first = parse_client_first(message);
    if (!first) return {Outcome::kFailed, "", "malformed client-first-message"};
    if (first->token_auth) return {Outcome::kFailed, "", "delegation tokens are not supported"};
    if (!first->authzid.empty() && first->authzid != first->username)
      return {Outcome::kFailed, "", "authorization id differs from the username"};
    username_ = first->username;
    gs2_header_ = first->gs2_header;
    client_first_bare_ = first->bare;
    auto found = lookup_ ? lookup_(username_) : std::nullopt;
    known_user_ = found.has_value();
    if (known_user_) {
      credential_ = std::move(*found);
    } else {
      // A decoy, so that the exchange looks the same for any user name.
      auto salt = scram_hmac(mechanism_, decoy_key(), username_);
      credential_ = ScramCredential{salt, scram_hash(mechanism_, salt), salt, kMinIterations};
    }
    std::array<uint8_t, 24> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
      return {Outcome::kFailed, "", "RAND_bytes failed"};
    nonce_ = first->nonce + base64_encode(random);
    server_first_ =
        "r=" + nonce_ + ",s=" + base64_encode(credential_.salt) + ",i=" + std::to_string(credential_.iterations);
    return {Outcome::kContinue, server_first_, ""};
  }
  if (stage_ != 1) return {Outcome::kFailed, "", "unexpected message after the exchange"};
  stage_ = 2;
  auto final_msg = parse_client_final(message);
  if (!final_msg) return {Outcome::kFailed, "", "malformed client-final-message"};
  auto binding = base64_decode(final_msg->channel_binding);
  if (!binding || std::string(binding->begin(), binding->end()) != gs2_header_)
    return {Outcome::kFailed, "", "channel binding does not match the gs2 header"};
  // Ends with, as Kafka checks it: librdkafka (before 2.3) sends its own
  // nonce again in front of the combined one. The server's random part is
  // there either way.
  if (!final_msg->nonce.ends_with(nonce_)) return {Outcome::kFailed, "", "nonce mismatch"};
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + final_msg->without_proof;
  auto client_signature = scram_hmac(mechanism_, credential_.stored_key, auth_message);
  if (final_msg->proof.size() != client_signature.size()) return {Outcome::kFailed, "", "proof length mismatch"};
  std::vector<uint8_t> client_key(client_signature.size());
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = final_msg->proof[i] ^ client_signature[i];
  bool ok = scram_equal(scram_hash(mechanism_, client_key), credential_.stored_key);
  if (!ok || !known_user_) return {Outcome::kFailed, "", known_user_ ? "invalid proof" : "unknown user"};
  auto server_signature = scram_hmac(mechanism_, credential_.server_key, auth_message);
  return {Outcome::kDone, "v=" + base64_encode(server_signature), ""};
}

}  // namespace runnel::security
