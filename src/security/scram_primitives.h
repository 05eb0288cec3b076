#pragma once
// What both sides of SCRAM (RFC 5802, RFC 7677) compute and parse: Hi()
// (PBKDF2), HMAC, H, a constant-time comparison, and the message grammar
// (comma-separated "x=value" attributes, printable nonces, saslname escapes).
// ScramServer (security/scram.h) and ScramClient (security/scram_client.h)
// share them. The hashing throws std::runtime_error only if OpenSSL fails;
// the parsers read network bytes and never throw. Thread-safe (pure).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "security/scram.h"

namespace runnel::security {

std::vector<uint8_t> scram_salted_password(ScramMechanism m, std::string_view password, std::span<const uint8_t> salt,
                                           int32_t iterations);
std::vector<uint8_t> scram_hmac(ScramMechanism m, std::span<const uint8_t> key, std::string_view data);
std::vector<uint8_t> scram_hash(ScramMechanism m, std::span<const uint8_t> data);
bool scram_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Splits a message on ',' (SCRAM attributes never contain one).
std::vector<std::string_view> split_scram_attrs(std::string_view message);
// "x=value": the value of attribute x, or nullopt.
std::optional<std::string_view> scram_attr(std::string_view part, char name);
// A nonce's characters: printable ASCII without ','.
bool scram_printable(std::string_view s);
// saslname: "=2C" is ',' and "=3D" is '='; any other '=' (or a ',') is malformed.
std::string encode_saslname(std::string_view name);
std::optional<std::string> decode_saslname(std::string_view s);

}  // namespace runnel::security
