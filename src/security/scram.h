#pragma once
// SCRAM (RFC 5802, RFC 7677) as Kafka uses it: the credential a broker keeps
// for a user (salt, iterations, StoredKey, ServerKey; never the password), the
// parsers of the two client messages, and the server side of one exchange.
// Crypto is OpenSSL's (PBKDF2, HMAC, SHA-2); proofs compare in constant time.
// Thread-safety: the free functions are thread-safe; a ScramServer is one
// connection's and used on one thread.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::security {

enum class ScramMechanism : uint8_t { kSha256 = 1, kSha512 = 2 };

// "SCRAM-SHA-256" / "SCRAM-SHA-512".
std::string_view mechanism_name(ScramMechanism m);
std::optional<ScramMechanism> parse_mechanism(std::string_view name);
// Kafka's mechanism numbers in Describe/AlterUserScramCredentials (1, 2).
inline int8_t mechanism_type(ScramMechanism m) { return static_cast<int8_t>(m); }
std::optional<ScramMechanism> mechanism_from_type(int8_t type);

// Kafka refuses fewer (ScramMechanism.minIterations) and more than 16384.
constexpr int32_t kMinIterations = 4096;
constexpr int32_t kMaxIterations = 16384;

struct ScramCredential {
  std::vector<uint8_t> salt;
  std::vector<uint8_t> stored_key;
  std::vector<uint8_t> server_key;
  int32_t iterations = 0;
  bool operator==(const ScramCredential&) const = default;
};

// Derives the credential of `password` (RFC 5802 section 3).
ScramCredential make_credential(ScramMechanism m, std::string_view password, std::span<const uint8_t> salt,
                                int32_t iterations);
// The credential of an already salted password (AlterUserScramCredentials
// sends SaltedPassword = Hi(password, salt, iterations), not the password).
ScramCredential credential_from_salted(ScramMechanism m, std::span<const uint8_t> salted_password,
                                       std::span<const uint8_t> salt, int32_t iterations);
// A fresh random salt (RAND_bytes).
std::vector<uint8_t> random_salt();
// True when `password` derives, with the credential's salt and iterations, to
// its StoredKey (compared in constant time). How PLAIN checks a password.
bool password_matches(ScramMechanism m, const ScramCredential& credential, std::string_view password);

std::string base64_encode(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

// client-first-message: gs2-header client-first-message-bare.
struct ClientFirst {
  std::string gs2_header;  // "n,," or "n,a=<authzid>,"
  std::string authzid;     // decoded; empty when absent
  std::string username;    // decoded (=2C and =3D)
  std::string nonce;
  std::string bare;         // client-first-message-bare, verbatim
  bool token_auth = false;  // the tokenauth=true extension (delegation tokens; refused)
};
// nullopt when malformed (channel binding requested, bad attribute order,
// bad username escapes, an empty nonce, ...).
std::optional<ClientFirst> parse_client_first(std::string_view message);

struct ClientFinal {
  std::string channel_binding;  // the c= value, base64 as sent
  std::string nonce;
  std::vector<uint8_t> proof;
  std::string without_proof;  // client-final-message-without-proof, verbatim
};
std::optional<ClientFinal> parse_client_final(std::string_view message);

// The server side of one SCRAM exchange: client-first, then client-final.
class ScramServer {
 public:
  // Looks a user's credential up for the exchange's mechanism; nullopt when
  // the user has none (the exchange then fails at client-final, as a wrong
  // password would, so that it does not tell which users exist).
  using Lookup = std::function<std::optional<ScramCredential>(const std::string& user)>;
  ScramServer(ScramMechanism m, Lookup lookup) : mechanism_(m), lookup_(std::move(lookup)) {}

  enum class Outcome { kContinue, kDone, kFailed };
  struct Step {
    Outcome outcome;
    std::string response;  // server-first or server-final (empty on failure)
    std::string reason;    // for the broker's log, never for the client
  };
  Step step(std::string_view message);
  // The authenticated user (valid once step() returned kDone).
  const std::string& username() const { return username_; }

 private:
  ScramMechanism mechanism_;
  Lookup lookup_;
  int stage_ = 0;
  std::string username_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  ScramCredential credential_;
  bool known_user_ = false;
};

}  // namespace runnel::security
