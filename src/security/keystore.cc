#include "security/keystore.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

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

// What a PKCS12 store holds.
struct Pkcs12Contents {
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

bool parse_pkcs12(PKCS12* p12, const std::string& password, Pkcs12Contents& out) {
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
Pkcs12Contents read_pkcs12(const std::string& path, const std::string& password, const std::string& setting,
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
  Pkcs12Contents out;
  if (parse_pkcs12(p12.get(), password, out)) return out;
  ERR_clear_error();
  load_legacy_provider();
  if (parse_pkcs12(p12.get(), password, out)) return out;
  throw std::runtime_error(setting + " " + path + ": cannot read the PKCS12 store: " + last_openssl_error());
}

void use_pkcs12_keystore(asio::ssl::context& ctx, const TlsConfig& config) {
  if (config.keystore_location.empty())
    throw std::runtime_error("ssl.keystore.type PKCS12 needs ssl.keystore.location");
  auto store =
      read_pkcs12(config.keystore_location, config.keystore_password, "ssl.keystore.location", "ssl.keystore.password");
  if (!store.key || !store.certificate)
    throw std::runtime_error("ssl.keystore.location " + config.keystore_location +
                             ": the PKCS12 store holds no private key with its certificate");
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
  if (config.keystore_type == "PKCS12")
    use_pkcs12_keystore(ctx, config);
  else
    use_pem_keystore(ctx, config);
  if (!SSL_CTX_check_private_key(ctx.native_handle()))
    throw std::runtime_error("ssl.keystore: the private key does not match the certificate");
}

void use_truststore(asio::ssl::context& ctx, const TlsConfig& config, bool client_ca_names) {
  SSL_CTX* native = ctx.native_handle();
  if (config.truststore_type != "PKCS12") {
    std::error_code ec;
    ctx.load_verify_file(config.truststore_location, ec);
    if (ec) throw std::runtime_error("ssl.truststore.location " + config.truststore_location + ": " + ec.message());
    if (client_ca_names)
      if (auto* names = SSL_load_client_CA_file(config.truststore_location.c_str()))
        SSL_CTX_set_client_CA_list(native, names);
    return;
  }
  auto store = read_pkcs12(config.truststore_location, config.truststore_password, "ssl.truststore.location",
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
    throw std::runtime_error("ssl.truststore.location " + config.truststore_location +
                             ": the PKCS12 store holds no certificate");
}

}  // namespace runnel::security
