#pragma once
// Java's JKS keystore format (`keytool`'s default before Java 9, and Kafka's
// default ssl.keystore.type), read so that a Kafka broker's stores work
// unchanged:
//
//   magic 0xFEEDFEED, version (1 or 2), entry count, all big-endian u32;
//   each entry: a tag (1 private key, 2 trusted certificate), its alias
//   (Java's writeUTF: u16 length + bytes), a u64 creation time in ms, then
//     - a private key: u32 length + an EncryptedPrivateKeyInfo (DER) whose
//       algorithm is Sun's key protector, u32 chain length, and per
//       certificate (version 2: a writeUTF type, "X.509") u32 length + DER;
//     - a trusted certificate: (version 2: its type) u32 length + DER;
//   and a SHA-1 over the store password (UTF-16BE), "Mighty Aphrodite" and
//   every byte before it: the store's integrity check.
//
// Sun's key protector: the encrypted data is a 20-byte salt, the key XORed
// with a stream of SHA-1(password || previous digest) blocks seeded by the
// salt, and SHA-1(password || key) to check the password. The key itself is
// a PKCS#8 PrivateKeyInfo. JCEKS (magic 0xCECECECE, keys under 3DES) is not
// read: the caller says how to convert it.
//
// Thread-safety: stateless functions.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runnel::security {

inline constexpr uint32_t kJksMagic = 0xFEEDFEED;
inline constexpr uint32_t kJceksMagic = 0xCECECECE;

struct JksKeyEntry {
  std::string alias;
  std::vector<uint8_t> protected_key;           // the EncryptedPrivateKeyInfo, DER
  std::vector<std::vector<uint8_t>> chain_der;  // the key's certificate first
};

struct JksStore {
  std::vector<JksKeyEntry> keys;                  // in the store's order
  std::vector<std::vector<uint8_t>> trusted_der;  // trusted certificate entries
};

// The store's magic, if `bytes` begins with 4 bytes (JKS, JCEKS or anything else).
std::optional<uint32_t> store_magic(std::span<const uint8_t> bytes);

// Parses a JKS store. With `password` the integrity check must hold
// ("wrong password" in `error` when it does not); without one it is not
// checked, as Java loads a truststore without a password. Returns false with
// `error` saying why for anything malformed: never reads past `bytes`.
[[nodiscard]] bool parse_jks(std::span<const uint8_t> bytes, const std::string* password, JksStore& out,
                             std::string& error);

// The PKCS#8 PrivateKeyInfo (DER) a key entry protects, with `password`
// (UTF-8). False with `error` for another algorithm, malformed data or a
// wrong password.
[[nodiscard]] bool unprotect_jks_key(std::span<const uint8_t> protected_key, const std::string& password,
                                     std::vector<uint8_t>& pkcs8_der, std::string& error);

// A password as Java hands it to the JKS digests: its UTF-16 code units,
// big-endian (a UTF-8 string that does not decode is taken byte by byte).
std::vector<uint8_t> jks_password_bytes(const std::string& password);

}  // namespace runnel::security
