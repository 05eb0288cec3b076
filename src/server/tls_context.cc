#include "server/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <stdexcept>

namespace runnel {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int protocol_version(const std::string& name) { return name == "TLSv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION; }

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const TlsConfig& config) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  // ssl.enabled.protocols: TLSv1.2 and/or TLSv1.3, as a min..max range.
  int min = TLS1_3_VERSION, max = TLS1_2_VERSION;
  for (const auto& p : config.enabled_protocols) {
    min = std::min(min, protocol_version(p));
    max = std::max(max, protocol_version(p));
  }
  if (!SSL_CTX_set_min_proto_version(native, min) || !SSL_CTX_set_max_proto_version(native, max))
    throw std::runtime_error("ssl.enabled.protocols: " + openssl_error());
  // ssl.cipher.suites: TLS 1.3 suites by their IANA names (TLS_AES_...),
  // TLS 1.2 suites by OpenSSL's names (ECDHE-RSA-AES128-GCM-SHA256).
  std::string v13, v12;
  for (const auto& s : config.cipher_suites) {
    bool tls13 = s.rfind("TLS_", 0) == 0 && s.find("_WITH_") == std::string::npos;
    std::string& list = tls13 ? v13 : v12;
    list += (list.empty() ? "" : ":") + s;
  }
  if (!v13.empty() && !SSL_CTX_set_ciphersuites(native, v13.c_str()))
    throw std::runtime_error("ssl.cipher.suites: no usable TLS 1.3 suite in '" + v13 + "'");
  if (!v12.empty() && !SSL_CTX_set_cipher_list(native, v12.c_str()))
    throw std::runtime_error("ssl.cipher.suites: no usable TLS 1.2 suite in '" + v12 + "'");

  std::string password = config.key_password;
  ctx->set_password_callback([password](std::size_t, asio::ssl::context::password_purpose) { return password; });
  std::error_code ec;
  if (!config.keystore_location.empty()) {
    ctx->use_certificate_chain_file(config.keystore_location, ec);
    if (ec)
      throw std::runtime_error("ssl.keystore.location " + config.keystore_location +
                               ": certificate chain: " + ec.message());
    ctx->use_private_key_file(config.keystore_location, asio::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("ssl.keystore.location " + config.keystore_location + ": private key: " + ec.message());
  } else {
    ctx->use_certificate_chain(asio::buffer(config.keystore_certificate_chain), ec);
    if (ec) throw std::runtime_error("ssl.keystore.certificate.chain: " + ec.message());
    ctx->use_private_key(asio::buffer(config.keystore_key), asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("ssl.keystore.key: " + ec.message());
  }
  if (!SSL_CTX_check_private_key(native))
    throw std::runtime_error("ssl.keystore: the private key does not match the certificate");

  if (!config.truststore_location.empty()) {
    ctx->load_verify_file(config.truststore_location, ec);
    if (ec) throw std::runtime_error("ssl.truststore.location " + config.truststore_location + ": " + ec.message());
    // The CAs a client may choose its certificate by.
    if (auto* names = SSL_load_client_CA_file(config.truststore_location.c_str()))
      SSL_CTX_set_client_CA_list(native, names);
  }
  if (config.client_auth == "required")
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  else if (config.client_auth == "requested")
    ctx->set_verify_mode(asio::ssl::verify_peer);
  else
    ctx->set_verify_mode(asio::ssl::verify_none);
  // Session resumption with client certificates needs a context id.
  static const unsigned char kSessionContext[] = "runnel";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

std::optional<std::string> certificate_principal(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    // RFC 2253, as Java's X500Principal.getName() gives it.
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  X509_free(cert);
  return "User:" + out;
}

}  // namespace runnel
