#include "security/keystore.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "security/jks.h"

namespace runnel::security {
namespace {

std::string last_openssl_error() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct Pkcs12Free {
  void operator()(PKCS12* p) const { PKCS12_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

// What a PKCS12 or JKS store holds: a key with its certificate and chain,
// or (a truststore) certificates only.
struct StoreContents {
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  std::unique_ptr<X509, X509Free> certificate;  // the key's certificate
  std::unique_ptr<STACK_OF(X509), X509StackFree> others;
};

// OpenSSL 3 keeps RC2 and single DES in the legacy provider, which is not
// loaded by default; old stores need it. Loaded once, with the default
// provider kept alongside (loading any provider explicitly unloads the
// implicit default).
void load_legacy_provider() {
  static std::once_flag once;
  std::call_once(once, [] {
    (void)OSSL_PROVIDER_load(nullptr, "default");
    (void)OSSL_PROVIDER_load(nullptr, "legacy");
  });
}

bool parse_pkcs12(PKCS12* p12, const std::string& password, StoreContents& out) {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* others = nullptr;
  // An empty password: a store without one (no MAC) or with "".
  const char* pass = password.empty() && !PKCS12_mac_present(p12) ? nullptr : password.c_str();
  if (!PKCS12_parse(p12, pass, &key, &cert, &others)) return false;
  out.key.reset(key);
  out.certificate.reset(cert);
  out.others.reset(others);
  return true;
}

// `setting` names the location key for messages (ssl.keystore.location).
StoreContents read_pkcs12(const std::string& path, const std::string& password, const std::string& setting,
                          const std::string& password_setting) {
  BIO* bio = BIO_new_file(path.c_str(), "rb");
  if (!bio) throw std::runtime_error(setting + " " + path + ": cannot open: " + last_openssl_error());
  std::unique_ptr<PKCS12, Pkcs12Free> p12(d2i_PKCS12_bio(bio, nullptr));
  BIO_free(bio);
  if (!p12) throw std::runtime_error(setting + " " + path + ": not a PKCS12 store: " + last_openssl_error());
  if (PKCS12_mac_present(p12.get()) && !PKCS12_verify_mac(p12.get(), password.c_str(), -1) &&
      !(password.empty() && PKCS12_verify_mac(p12.get(), nullptr, 0))) {
    ERR_clear_error();
    throw std::runtime_error(setting + " " + path + ": the store's integrity check failed: wrong " + password_setting);
  }
  StoreContents out;
  if (parse_pkcs12(p12.get(), password, out)) return out;
  ERR_clear_error();
  load_legacy_provider();
  if (parse_pkcs12(p12.get(), password, out)) return out;
  throw std::runtime_error(setting + " " + path + ": cannot read the PKCS12 store: " + last_openssl_error());
}

// A store's format. Java's JKS and PKCS12 keystore types each read either
// format (keystore.type.compat, since Java 9), so the file's first bytes
// decide between them; runnel's default type, PEM, takes a binary store too,
// so that a Kafka config that leaves the type at Kafka's default (JKS) and
// names a .jks or .p12 file works unchanged.
enum class StoreFormat { Pem, Pkcs12, Jks };

StoreFormat store_format(const std::string& declared, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t head[4] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const auto magic = in.gcount() == 4 ? store_magic(head) : std::nullopt;
  if (magic == kJksMagic || magic == kJceksMagic) return StoreFormat::Jks;
  if (declared != "PEM") return StoreFormat::Pkcs12;
  return in.gcount() > 0 && head[0] == 0x30 ? StoreFormat::Pkcs12 : StoreFormat::Pem;  // 0x30: a DER SEQUENCE
}

std::vector<uint8_t> read_whole(const std::string& path, const std::string& setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(setting + " " + path + ": cannot open");
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw std::runtime_error(setting + " " + path + ": cannot read");
  return bytes;
}

std::unique_ptr<X509, X509Free> der_certificate(const std::vector<uint8_t>& der, const std::string& where) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) throw std::runtime_error(where + ": a certificate that does not parse: " + last_openssl_error());
  return cert;
}

std::unique_ptr<STACK_OF(X509), X509StackFree> der_certificates(std::span<const std::vector<uint8_t>> ders,
                                                                const std::string& where) {
  std::unique_ptr<STACK_OF(X509), X509StackFree> out(sk_X509_new_null());
  for (const auto& der : ders) sk_X509_push(out.get(), der_certificate(der, where).release());
  return out;
}

// security/jks.h's "wrong password" with the setting that holds it.
std::string naming_password(std::string error, const std::string& password_setting) {
  if (error.ends_with("wrong password")) error.replace(error.size() - 8, 8, password_setting);
  return error;
}

// A JKS store, read and parsed; an empty password skips the integrity
// check, as Java does for null.
JksStore read_jks(const std::string& path, const std::string& password, const std::string& setting,
                  const std::string& password_setting) {
  const auto bytes = read_whole(path, setting);
  JksStore store;
  std::string error;
  if (!parse_jks(bytes, password.empty() ? nullptr : &password, store, error))
    throw std::runtime_error(setting + " " + path + ": " + naming_password(error, password_setting));
  return store;
}

// A JKS keystore's first private key entry, unprotected with `key_password`,
// and that key's chain (nothing when it holds no key entry).
StoreContents jks_key_and_chain(const JksStore& store, const std::string& where, const std::string& key_password,
                                const std::string& key_password_setting) {
  StoreContents out;
  if (store.keys.empty()) return out;
  const JksKeyEntry& entry = store.keys.front();
  std::vector<uint8_t> pkcs8;
  std::string error;
  if (!unprotect_jks_key(entry.protected_key, key_password, pkcs8, error))
    throw std::runtime_error(where + " (alias " + entry.alias + "): " + naming_password(error, key_password_setting));
  const unsigned char* p = pkcs8.data();
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(pkcs8.size())), PKCS8_PRIV_KEY_INFO_free);
  if (info) out.key.reset(EVP_PKCS82PKEY(info.get()));
  if (!out.key)
    throw std::runtime_error(where + " (alias " + entry.alias +
                             "): a private key that does not parse: " + last_openssl_error());
  if (entry.chain_der.empty()) return out;
  out.certificate = der_certificate(entry.chain_der.front(), where);
  out.others = der_certificates(std::span(entry.chain_der).subspan(1), where);
  return out;
}

// The key, its certificate and chain from a PKCS12 or JKS keystore.
void use_binary_keystore(asio::ssl::context& ctx, const TlsConfig& config, StoreFormat format) {
  const std::string& key_password = config.key_password.empty() ? config.keystore_password : config.key_password;
  const char* key_password_setting = config.key_password.empty() ? "ssl.keystore.password" : "ssl.key.password";
  auto store =
      format == StoreFormat::Jks
          ? jks_key_and_chain(read_jks(config.keystore_location, config.keystore_password, "ssl.keystore.location",
                                       "ssl.keystore.password"),
                              "ssl.keystore.location " + config.keystore_location, key_password, key_password_setting)
          : read_pkcs12(config.keystore_location, config.keystore_password, "ssl.keystore.location",
                        "ssl.keystore.password");
  const char* kind = format == StoreFormat::Jks ? "JKS" : "PKCS12";
  if (!store.key || !store.certificate)
    throw std::runtime_error("ssl.keystore.location " + config.keystore_location + ": the " + kind +
                             " store holds no private key with its certificate");
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_use_certificate(native, store.certificate.get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, store.key.get()) != 1)
    throw std::runtime_error("ssl.keystore.location " + config.keystore_location + ": " + last_openssl_error());
  SSL_CTX_clear_chain_certs(native);
  if (store.others)
    for (int i = 0; i < sk_X509_num(store.others.get()); ++i)
      if (SSL_CTX_add1_chain_cert(native, sk_X509_value(store.others.get(), i)) != 1)
        throw std::runtime_error("ssl.keystore.location " + config.keystore_location +
                                 ": chain: " + last_openssl_error());
}

void use_pem_keystore(asio::ssl::context& ctx, const TlsConfig& config) {
  std::string password = config.key_password;
  ctx.set_password_callback([password](std::size_t, asio::ssl::context::password_purpose) { return password; });
  std::error_code ec;
  if (!config.keystore_location.empty()) {
    ctx.use_certificate_chain_file(config.keystore_location, ec);
    if (ec)
      throw std::runtime_error("ssl.keystore.location " + config.keystore_location +
                               ": certificate chain: " + ec.message());
    ctx.use_private_key_file(config.keystore_location, asio::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("ssl.keystore.location " + config.keystore_location + ": private key: " + ec.message());
  } else {
    ctx.use_certificate_chain(asio::buffer(config.keystore_certificate_chain), ec);
    if (ec) throw std::runtime_error("ssl.keystore.certificate.chain: " + ec.message());
    ctx.use_private_key(asio::buffer(config.keystore_key), asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("ssl.keystore.key: " + ec.message());
  }
}

}  // namespace

void use_keystore(asio::ssl::context& ctx, const TlsConfig& config) {
  const StoreFormat format = config.keystore_location.empty()
                                 ? StoreFormat::Pem
                                 : store_format(config.keystore_type, config.keystore_location);
  if (format == StoreFormat::Pem)
    use_pem_keystore(ctx, config);
  else
    use_binary_keystore(ctx, config, format);
  if (!SSL_CTX_check_private_key(ctx.native_handle()))
    throw std::runtime_error("ssl.keystore: the private key does not match the certificate");
}

bool truststore_is_pem(const TlsConfig& config) {
  return !config.truststore_location.empty() &&
         store_format(config.truststore_type, config.truststore_location) == StoreFormat::Pem;
}

void use_truststore(asio::ssl::context& ctx, const TlsConfig& config, bool client_ca_names) {
  SSL_CTX* native = ctx.native_handle();
  const StoreFormat format = store_format(config.truststore_type, config.truststore_location);
  if (format == StoreFormat::Pem) {
    std::error_code ec;
    ctx.load_verify_file(config.truststore_location, ec);
    if (ec) throw std::runtime_error("ssl.truststore.location " + config.truststore_location + ": " + ec.message());
    if (client_ca_names)
      if (auto* names = SSL_load_client_CA_file(config.truststore_location.c_str()))
        SSL_CTX_set_client_CA_list(native, names);
    return;
  }
  StoreContents store;
  if (format == StoreFormat::Jks)
    store.others = der_certificates(read_jks(config.truststore_location, config.truststore_password,
                                             "ssl.truststore.location", "ssl.truststore.password")
                                        .trusted_der,
                                    "ssl.truststore.location " + config.truststore_location);
  else
    store = read_pkcs12(config.truststore_location, config.truststore_password, "ssl.truststore.location",
                        "ssl.truststore.password");
  X509_STORE* trusted = SSL_CTX_get_cert_store(native);
  int count = 0;
  auto trust = [&](X509* cert) {
    if (X509_STORE_add_cert(trusted, cert) != 1)
      throw std::runtime_error("ssl.truststore.location " + config.truststore_location + ": " + last_openssl_error());
    if (client_ca_names) (void)SSL_CTX_add_client_CA(native, cert);
    ++count;
  };
  if (store.certificate) trust(store.certificate.get());
  if (store.others)
    for (int i = 0; i < sk_X509_num(store.others.get()); ++i) trust(sk_X509_value(store.others.get(), i));
  if (count == 0)
    throw std::runtime_error("ssl.truststore.location " + config.truststore_location + ": the " +
                             (format == StoreFormat::Jks ? "JKS store holds no trusted certificate entry"
                                                         : "PKCS12 store holds no certificate"));
}

}  // namespace runnel::security
