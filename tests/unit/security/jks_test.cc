// security/jks.h: Java's JKS stores, read as keytool writes them. One store
// below was written by keytool (Java 17: `keytool -importcert -alias ca -file
// ca.pem -keystore trust.jks -storetype JKS -storepass trust-pass-7`, a CA
// certificate only, so no key is committed); the others are made here with
// the same format, a freshly generated key and a self-signed certificate.
#include "security/jks.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace runnel::security {
namespace {

const std::vector<uint8_t> kKeytoolTrustStore = {
    0xfe, 0xed, 0xfe, 0xed, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x63,
    0x61, 0x00, 0x00, 0x01, 0xa2, 0x52, 0xed, 0x4d, 0x40, 0x00, 0x05, 0x58, 0x2e, 0x35, 0x30, 0x39, 0x00, 0x00, 0x01,
    0xb6, 0x30, 0x82, 0x01, 0xb2, 0x30, 0x82, 0x01, 0x59, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x14, 0x14, 0x59, 0xd0,
    0xbb, 0x1e, 0xa0, 0xb1, 0xd1, 0x2d, 0xbe, 0x20, 0x06, 0xcf, 0x2b, 0x88, 0x87, 0xa7, 0xd1, 0xc2, 0xee, 0x30, 0x0a,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x2e, 0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55,
    0x04, 0x0a, 0x0c, 0x06, 0x72, 0x75, 0x6e, 0x6e, 0x65, 0x6c, 0x31, 0x1b, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03,
    0x0c, 0x12, 0x72, 0x75, 0x6e, 0x6e, 0x65, 0x6c, 0x2d, 0x6a, 0x6b, 0x73, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x63,
    0x61, 0x30, 0x20, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x32, 0x30, 0x37, 0x32, 0x33, 0x35, 0x33, 0x33, 0x32, 0x5a, 0x18,
    0x0f, 0x32, 0x31, 0x32, 0x36, 0x31, 0x31, 0x31, 0x33, 0x32, 0x33, 0x35, 0x33, 0x33, 0x32, 0x5a, 0x30, 0x2e, 0x31,
    0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x06, 0x72, 0x75, 0x6e, 0x6e, 0x65, 0x6c, 0x31, 0x1b, 0x30,
    0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x12, 0x72, 0x75, 0x6e, 0x6e, 0x65, 0x6c, 0x2d, 0x6a, 0x6b, 0x73, 0x2d,
    0x74, 0x65, 0x73, 0x74, 0x2d, 0x63, 0x61, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x07, 0xab, 0x83, 0xdb,
    0x6f, 0x0c, 0x13, 0xb3, 0x57, 0xe8, 0x47, 0x93, 0xe9, 0x6d, 0xca, 0x65, 0x1d, 0xf3, 0x26, 0x04, 0x6f, 0x48, 0x0b,
    0xde, 0x6e, 0xa4, 0xd3, 0x15, 0x9e, 0x82, 0x32, 0x4a, 0x66, 0x07, 0x00, 0x79, 0xd5, 0x93, 0xc1, 0xe0, 0x16, 0x54,
    0x41, 0xff, 0xe9, 0xf8, 0xf6, 0xa7, 0xe0, 0xfb, 0x5a, 0x31, 0x93, 0x3e, 0xdf, 0x0a, 0x31, 0xb6, 0x86, 0xd0, 0x77,
    0xa8, 0xfb, 0x26, 0xa3, 0x53, 0x30, 0x51, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14, 0x19,
    0x1b, 0xa2, 0x31, 0xf5, 0x7f, 0x31, 0xd0, 0x68, 0x80, 0xa2, 0x53, 0xdd, 0xea, 0xb6, 0x2c, 0xbc, 0x39, 0x65, 0x1b,
    0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0x19, 0x1b, 0xa2, 0x31, 0xf5, 0x7f,
    0x31, 0xd0, 0x68, 0x80, 0xa2, 0x53, 0xdd, 0xea, 0xb6, 0x2c, 0xbc, 0x39, 0x65, 0x1b, 0x30, 0x0f, 0x06, 0x03, 0x55,
    0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x47, 0x00, 0x30, 0x44, 0x02, 0x20, 0x2e, 0xef, 0xbd, 0x27, 0x2c, 0x51, 0x63,
    0x5e, 0xa8, 0xd6, 0x29, 0x1c, 0xe6, 0xaf, 0xc3, 0xb5, 0x86, 0x43, 0x2e, 0xbc, 0x76, 0xc0, 0x44, 0xf3, 0x14, 0x33,
    0xfe, 0xf1, 0x42, 0xa2, 0x13, 0x0f, 0x02, 0x20, 0x0b, 0x2d, 0x3f, 0x99, 0x90, 0x63, 0xe3, 0x5b, 0xe7, 0x8f, 0x63,
    0x22, 0x3c, 0x54, 0x2c, 0x1a, 0x85, 0xda, 0x6e, 0xfb, 0x0f, 0x7c, 0xf3, 0x1e, 0xf6, 0x5b, 0x10, 0x74, 0xfc, 0x44,
    0xff, 0x72, 0x6e, 0x32, 0x97, 0xd5, 0x57, 0xa4, 0x78, 0x35, 0x66, 0xaa, 0x04, 0xf5, 0x8b, 0xe2, 0xb5, 0xdf, 0xc1,
    0x8c, 0x29, 0xf4,
};

using JksBytes = std::vector<uint8_t>;

JksBytes jks_sha1_of(std::initializer_list<JksBytes> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr), 1);
  for (const auto& p : parts) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
  JksBytes out(20);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &n);
  return out;
}

// Big-endian fields as Java's DataOutputStream writes them.
struct JksWriter {
  JksBytes b;
  void u16(uint32_t v) { b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)}); }
  void u32(uint32_t v) { b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}); }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void utf(const std::string& s) {
    u16(static_cast<uint32_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void blob(const JksBytes& x) {
    u32(static_cast<uint32_t>(x.size()));
    b.insert(b.end(), x.begin(), x.end());
  }
};

// Sun's key protector, as keytool applies it, wrapped in an EncryptedPrivateKeyInfo.
JksBytes jks_protect(const JksBytes& pkcs8, const std::string& password, const char* oid = "1.3.6.1.4.1.42.2.17.1.1") {
  const JksBytes pw = jks_password_bytes(password);
  JksBytes salt(20);
  RAND_bytes(salt.data(), 20);
  JksBytes sealed = salt, block = salt;
  for (size_t at = 0; at < pkcs8.size(); at += 20) {
    block = jks_sha1_of({pw, block});
    for (size_t k = 0; k < 20 && at + k < pkcs8.size(); ++k) sealed.push_back(pkcs8[at + k] ^ block[k]);
  }
  const JksBytes check = jks_sha1_of({pw, pkcs8});
  sealed.insert(sealed.end(), check.begin(), check.end());
  std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> sig(X509_SIG_new(), X509_SIG_free);
  X509_ALGOR* alg = nullptr;
  ASN1_OCTET_STRING* data = nullptr;
  X509_SIG_getm(sig.get(), &alg, &data);
  X509_ALGOR_set0(alg, OBJ_txt2obj(oid, 1), V_ASN1_NULL, nullptr);
  ASN1_OCTET_STRING_set(data, sealed.data(), static_cast<int>(sealed.size()));
  unsigned char* der = nullptr;
  const int n = i2d_X509_SIG(sig.get(), &der);
  JksBytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

struct JksKeyMaterial {
  JksBytes pkcs8, cert;
};

JksKeyMaterial make_jks_key_material() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("jks-test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  JksKeyMaterial out;
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)> info(EVP_PKEY2PKCS8(key.get()),
                                                                                 PKCS8_PRIV_KEY_INFO_free);
  unsigned char* der = nullptr;
  int n = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der);
  out.pkcs8.assign(der, der + n);
  OPENSSL_free(der);
  der = nullptr;
  n = i2d_X509(cert.get(), &der);
  out.cert.assign(der, der + n);
  OPENSSL_free(der);
  return out;
}

// A version 2 store: one key entry (`alias`, its chain the one certificate)
// and one trusted certificate entry.
JksBytes make_jks_store(const JksKeyMaterial& kc, const std::string& store_password, const std::string& key_password) {
  JksWriter w;
  w.u32(kJksMagic);
  w.u32(2);
  w.u32(2);
  w.u32(1);
  w.utf("broker");
  w.u64(1700000000000);
  w.blob(jks_protect(kc.pkcs8, key_password));
  w.u32(1);
  w.utf("X.509");
  w.blob(kc.cert);
  w.u32(2);
  w.utf("ca");
  w.u64(1700000000000);
  w.utf("X.509");
  w.blob(kc.cert);
  const std::string whitener = "Mighty Aphrodite";
  const JksBytes digest =
      jks_sha1_of({jks_password_bytes(store_password), JksBytes(whitener.begin(), whitener.end()), w.b});
  w.b.insert(w.b.end(), digest.begin(), digest.end());
  return w.b;
}

TEST(Jks, ReadsAStoreKeytoolWrote) {
  const std::string password = "trust-pass-7";
  JksStore store;
  std::string error;
  ASSERT_TRUE(parse_jks(kKeytoolTrustStore, &password, store, error)) << error;
  EXPECT_TRUE(store.keys.empty());
  ASSERT_EQ(store.trusted_der.size(), 1u);
  const unsigned char* p = store.trusted_der[0].data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(store.trusted_der[0].size())), X509_free);
  ASSERT_NE(cert, nullptr);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "runnel-jks-test-ca");

  const std::string wrong = "trust-pass-8";
  EXPECT_FALSE(parse_jks(kKeytoolTrustStore, &wrong, store, error));
  EXPECT_EQ(error, "the store's integrity check failed: wrong password");
  // Without a password the integrity check is skipped, as Java does for a truststore.
  EXPECT_TRUE(parse_jks(kKeytoolTrustStore, nullptr, store, error)) << error;
  EXPECT_EQ(store.trusted_der.size(), 1u);
}

TEST(Jks, UnprotectsAKeyWithItsOwnPassword) {
  const JksKeyMaterial kc = make_jks_key_material();
  const JksBytes bytes = make_jks_store(kc, "store-pass", "key-pass");
  const std::string store_password = "store-pass";
  JksStore store;
  std::string error;
  ASSERT_TRUE(parse_jks(bytes, &store_password, store, error)) << error;
  ASSERT_EQ(store.keys.size(), 1u);
  EXPECT_EQ(store.keys[0].alias, "broker");
  ASSERT_EQ(store.keys[0].chain_der.size(), 1u);
  EXPECT_EQ(store.keys[0].chain_der[0], kc.cert);
  ASSERT_EQ(store.trusted_der.size(), 1u);
  JksBytes pkcs8;
  ASSERT_TRUE(unprotect_jks_key(store.keys[0].protected_key, "key-pass", pkcs8, error)) << error;
  EXPECT_EQ(pkcs8, kc.pkcs8);
  EXPECT_FALSE(unprotect_jks_key(store.keys[0].protected_key, "store-pass", pkcs8, error));
  EXPECT_EQ(error, "cannot unprotect the private key: wrong password");
  EXPECT_TRUE(pkcs8.empty());
}

TEST(Jks, RefusesAnotherKeyProtection) {
  const JksKeyMaterial kc = make_jks_key_material();
  JksBytes pkcs8;
  std::string error;
  EXPECT_FALSE(unprotect_jks_key(jks_protect(kc.pkcs8, "p", "1.2.840.113549.1.5.13"), "p", pkcs8, error));
  EXPECT_NE(error.find("1.2.840.113549.1.5.13"), std::string::npos) << error;
  const JksBytes junk = {0x30, 0x03, 0x02, 0x01, 0x00};
  EXPECT_FALSE(unprotect_jks_key(junk, "p", pkcs8, error));
}

TEST(Jks, EveryTruncationAndAFlippedByteFailCleanly) {
  const JksBytes bytes = make_jks_store(make_jks_key_material(), "pw", "pw");
  const std::string password = "pw";
  JksStore store;
  std::string error;
  for (size_t n = 0; n < bytes.size(); ++n) {
    const JksBytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_jks(cut, &password, store, error)) << "a store cut at " << n << " bytes";
    (void)parse_jks(cut, nullptr, store, error);  // may parse (the digest is not checked), must not crash
  }
  JksBytes flipped = bytes;
  flipped[40] ^= 1;
  EXPECT_FALSE(parse_jks(flipped, &password, store, error));
}

TEST(Jks, SaysWhatAJceksStoreIs) {
  JksBytes bytes = make_jks_store(make_jks_key_material(), "pw", "pw");
  bytes[0] = bytes[1] = bytes[2] = bytes[3] = 0xCE;
  JksStore store;
  std::string error;
  EXPECT_FALSE(parse_jks(bytes, nullptr, store, error));
  EXPECT_NE(error.find("JCEKS"), std::string::npos) << error;
  EXPECT_EQ(store_magic(bytes), kJceksMagic);
  EXPECT_EQ(store_magic(JksBytes{1, 2, 3}), std::nullopt);
}

TEST(Jks, PasswordsAreUtf16BigEndianAsJavaCharsAre) {
  EXPECT_EQ(jks_password_bytes("ab"), (JksBytes{0, 'a', 0, 'b'}));
  EXPECT_EQ(jks_password_bytes("\xC3\xA9"), (JksBytes{0x00, 0xE9}));                      // é
  EXPECT_EQ(jks_password_bytes("\xE2\x82\xAC"), (JksBytes{0x20, 0xAC}));                  // €
  EXPECT_EQ(jks_password_bytes("\xF0\x9F\x98\x80"), (JksBytes{0xD8, 0x3D, 0xDE, 0x00}));  // a surrogate pair
  EXPECT_EQ(jks_password_bytes("\xFF"), (JksBytes{0x00, 0xFF}));                          // not UTF-8: byte by byte
  EXPECT_TRUE(jks_password_bytes("").empty());
}

}  // namespace
}  // namespace runnel::security
