#include "security/scram_primitives.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace runnel::security {
namespace {

const EVP_MD* digest(ScramMechanism m) { return m == ScramMechanism::kSha256 ? EVP_sha256() : EVP_sha512(); }

}  // namespace

std::vector<uint8_t> scram_hmac(ScramMechanism m, std::span<const uint8_t> key, std::string_view data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!HMAC(digest(m), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(data.data()),
            data.size(), out.data(), &n))
    throw std::runtime_error("HMAC failed");
  out.resize(n);
  return out;
}

std::vector<uint8_t> scram_hash(ScramMechanism m, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  if (!EVP_Digest(data.data(), data.size(), out.data(), &n, digest(m), nullptr))
    throw std::runtime_error("digest failed");
  out.resize(n);
  return out;
}

std::vector<uint8_t> scram_salted_password(ScramMechanism m, std::string_view password, std::span<const uint8_t> salt,
                                           int32_t iterations) {
  std::vector<uint8_t> out(static_cast<size_t>(EVP_MD_get_size(digest(m))));
  if (!PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                         iterations, digest(m), static_cast<int>(out.size()), out.data()))
    throw std::runtime_error("PBKDF2 failed");
  return out;
}

bool scram_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool scram_printable(std::string_view s) {
  for (char c : s)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

// saslname: "=2C" is ',' and "=3D" is '='; any other '=' (or a ',') is malformed.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return std::nullopt;
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (s.substr(i, 3) == "=2C")
      out += ',';
    else if (s.substr(i, 3) == "=3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

// Splits on ',' (SCRAM attributes never contain one).
std::vector<std::string_view> split_scram_attrs(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

// "x=value": the value of attribute x, or nullopt.
std::optional<std::string_view> scram_attr(std::string_view part, char name) {
  if (part.size() < 2 || part[0] != name || part[1] != '=') return std::nullopt;
  return part.substr(2);
}

std::string encode_saslname(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

}  // namespace runnel::security
