#include "security/jks.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>

#include "base/endian.h"
#include "protocol/reader.h"

namespace runnel::security {
namespace {

constexpr size_t kSha1Size = 20;
constexpr char kIntegrityWhitener[] = "Mighty Aphrodite";
// Sun's JKS key protector (sun.security.provider.KeyProtector).
constexpr char kKeyProtectorOid[] = "1.3.6.1.4.1.42.2.17.1.1";

using Sha1 = std::array<uint8_t, kSha1Size>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SHA-1 over the concatenation of `parts`; false only if OpenSSL fails.
bool sha1(std::initializer_list<std::span<const uint8_t>> parts, Sha1& out) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) return false;
  for (auto part : parts)
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) return false;
  unsigned int n = 0;
  return EVP_DigestFinal_ex(ctx.get(), out.data(), &n) == 1 && n == kSha1Size;
}

// Java's DataOutput.writeUTF: a u16 length, then that many bytes.
std::string utf(protocol::Reader& r) {
  auto b = r.take(r.u16());
  return {b.begin(), b.end()};
}

// A u32-length-prefixed blob.
std::vector<uint8_t> blob(protocol::Reader& r) {
  auto b = r.take(r.u32());
  return {b.begin(), b.end()};
}

// One certificate of a chain or a trusted entry; version 2 names its type.
bool certificate(protocol::Reader& r, uint32_t version, std::vector<uint8_t>& der, std::string& error) {
  if (version == 2) {
    std::string type = utf(r);
    if (type != "X.509") {
      error = "a certificate of type " + type + " (only X.509 is read)";
      return false;
    }
  }
  der = blob(r);
  return true;
}

// The code points of UTF-8 text; false if it is not UTF-8.
bool utf8_code_points(const std::string& s, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t extra = 0;
    uint32_t cp = c;
    if (c >= 0x80) {
      if ((c & 0xE0) == 0xC0)
        extra = 1, cp = c & 0x1F;
      else if ((c & 0xF0) == 0xE0)
        extra = 2, cp = c & 0x0F;
      else if ((c & 0xF8) == 0xF0)
        extra = 3, cp = c & 0x07;
      else
        return false;
    }
    if (extra > s.size() - i - 1) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::optional<uint32_t> store_magic(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4) return std::nullopt;
  return load_be32(bytes.data());
}

std::vector<uint8_t> jks_password_bytes(const std::string& password) {
  std::vector<uint8_t> out;
  auto unit = [&out](uint32_t u) {
    out.push_back(static_cast<uint8_t>(u >> 8));
    out.push_back(static_cast<uint8_t>(u));
  };
  std::vector<uint32_t> points;
  if (!utf8_code_points(password, points)) {
    for (char ch : password) unit(static_cast<uint8_t>(ch));
    return out;
  }
  for (uint32_t cp : points) {
    if (cp >= 0x10000) {  // a surrogate pair, as a Java String holds it
      cp -= 0x10000;
      unit(0xD800 + (cp >> 10));
      unit(0xDC00 + (cp & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return out;
}

bool parse_jks(std::span<const uint8_t> bytes, const std::string* password, JksStore& out, std::string& error) {
  out = {};
  if (bytes.size() < 12 + kSha1Size) {
    error = "too short for a JKS store";
    return false;
  }
  const auto body = bytes.first(bytes.size() - kSha1Size);
  protocol::Reader r(body);
  const uint32_t magic = r.u32(), version = r.u32(), count = r.u32();  // 12 bytes, there
  if (magic != kJksMagic) {
    error = magic == kJceksMagic ? "a JCEKS store (only JKS and PKCS12 are read)" : "not a JKS store";
    return false;
  }
  if (version != 1 && version != 2) {
    error = "JKS version " + std::to_string(version) + " (1 and 2 are read)";
    return false;
  }
  try {
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t tag = r.u32();
      std::string alias = utf(r);
      (void)r.i64();  // creation time
      if (tag == 1) {
        JksKeyEntry key{std::move(alias), blob(r), {}};
        const uint32_t chain = r.u32();
        for (uint32_t c = 0; c < chain; ++c) {
          std::vector<uint8_t> der;
          if (!certificate(r, version, der, error)) return false;
          key.chain_der.push_back(std::move(der));
        }
        out.keys.push_back(std::move(key));
      } else if (tag == 2) {
        std::vector<uint8_t> der;
        if (!certificate(r, version, der, error)) return false;
        out.trusted_der.push_back(std::move(der));
      } else {
        error = "an entry of unknown kind " + std::to_string(tag) + " (alias " + alias + ")";
        return false;
      }
    }
  } catch (const protocol::DecodeError&) {
    error = "the store ends inside an entry";
    return false;
  }
  if (r.remaining() != 0) {
    error = "bytes after the last entry";
    return false;
  }
  if (password) {
    const auto pw = jks_password_bytes(*password);
    Sha1 digest;
    const auto whitener =
        std::span(reinterpret_cast<const uint8_t*>(kIntegrityWhitener), sizeof kIntegrityWhitener - 1);
    if (!sha1({pw, whitener, body}, digest)) {
      error = "SHA-1 failed";
      return false;
    }
    if (std::memcmp(digest.data(), bytes.data() + body.size(), kSha1Size) != 0) {
      error = "the store's integrity check failed: wrong password";
      return false;
    }
  }
  return true;
}

bool unprotect_jks_key(std::span<const uint8_t> protected_key, const std::string& password,
                       std::vector<uint8_t>& pkcs8_der, std::string& error) {
  const unsigned char* p = protected_key.data();
  std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> info(
      d2i_X509_SIG(nullptr, &p, static_cast<long>(protected_key.size())), X509_SIG_free);
  if (!info) {
    error = "the private key entry is not an EncryptedPrivateKeyInfo";
    return false;
  }
  const X509_ALGOR* algorithm = nullptr;
  const ASN1_OCTET_STRING* data = nullptr;
  X509_SIG_get0(info.get(), &algorithm, &data);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  char name[80] = {};
  OBJ_obj2txt(name, sizeof name, oid, 1);
  if (std::strcmp(name, kKeyProtectorOid) != 0) {
    error = std::string("a private key protected with ") + name + " (a JKS store's keys use " + kKeyProtectorOid + ")";
    return false;
  }
  const auto sealed = std::span(ASN1_STRING_get0_data(data), static_cast<size_t>(ASN1_STRING_length(data)));
  if (sealed.size() < 2 * kSha1Size) {
    error = "the protected private key is too short";
    return false;
  }
  const auto salt = sealed.first(kSha1Size);
  const auto encrypted = sealed.subspan(kSha1Size, sealed.size() - 2 * kSha1Size);
  const auto check = sealed.last(kSha1Size);
  const auto pw = jks_password_bytes(password);
  pkcs8_der.assign(encrypted.begin(), encrypted.end());
  Sha1 block;
  std::memcpy(block.data(), salt.data(), kSha1Size);
  for (size_t at = 0; at < pkcs8_der.size(); at += kSha1Size) {
    Sha1 next;
    if (!sha1({pw, block}, next)) {
      error = "SHA-1 failed";
      return false;
    }
    block = next;
    for (size_t k = 0; k < kSha1Size && at + k < pkcs8_der.size(); ++k) pkcs8_der[at + k] ^= block[k];
  }
  Sha1 expected;
  if (!sha1({pw, pkcs8_der}, expected) || std::memcmp(expected.data(), check.data(), kSha1Size) != 0) {
    pkcs8_der.clear();
    error = "cannot unprotect the private key: wrong password";
    return false;
  }
  return true;
}

}  // namespace runnel::security
