#include "security/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "security/keystore.h"

namespace runnel::security {
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

bool is_ip_literal(const std::string& host) {
  std::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string subject_of(X509* cert) {
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    // RFC 2253, as Java's X500Principal.getName() gives it.
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  return out;
}

// ssl.enabled.protocols and ssl.cipher.suites, the same on both sides.
void set_protocols_and_ciphers(asio::ssl::context& ctx, const TlsConfig& config) {
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
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
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const TlsConfig& config, TlsSide side) {
  auto ctx = std::make_shared<asio::ssl::context>(side == TlsSide::kServer ? asio::ssl::context::tls_server
                                                                           : asio::ssl::context::tls_client);
  set_protocols_and_ciphers(*ctx, config);
  if (side == TlsSide::kClient) {
    // A broker reaching another: the peer must prove who it is (there is no
    // system CA fallback: the truststore names the CAs brokers trust), and a
    // keystore, when configured, is presented for ssl.client.auth.
    if (config.truststore_location.empty())
      throw std::runtime_error(
          "ssl.truststore.location is not set: a broker verifies the other brokers' certificates against it");
    if (!config.keystore_location.empty() || !config.keystore_key.empty()) use_keystore(*ctx, config);
    use_truststore(*ctx, config, /*client_ca_names=*/false);
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
  }
  use_keystore(*ctx, config);
  SSL_CTX* native = ctx->native_handle();
  if (!config.truststore_location.empty()) use_truststore(*ctx, config, /*client_ca_names=*/true);
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

bool verifies_endpoint(const TlsConfig& config) { return !config.endpoint_identification_algorithm.empty(); }

bool expect_peer_identity(SSL* ssl, const std::string& host, bool verify_endpoint, std::string* error) {
  const bool ip = is_ip_literal(host);
  // SNI carries DNS names only (RFC 6066).
  if (!ip && !host.empty() && !SSL_set_tlsext_host_name(ssl, host.c_str())) {
    *error = "cannot set the TLS server name " + host + ": " + openssl_error();
    return false;
  }
  if (!verify_endpoint) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  // A wildcard covers one whole leftmost label only ("*.example.com"), as in Java.
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (!ok) {
    *error = "cannot check the peer's certificate for " + host + ": " + openssl_error();
    return false;
  }
  return true;
}

std::string describe_verify_error(long verify_result, const std::string& host, const TlsConfig& config) {
  std::string what = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify_result);
  switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return what + " (the peer's certificate does not name " + host +
             "; ssl.endpoint.identification.algorithm=" + config.endpoint_identification_algorithm + ")";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return what;
    default:
      return what + " (the peer's certificate chain against ssl.truststore.location " + config.truststore_location +
             ")";
  }
}

std::string describe_handshake_failure(SSL* ssl, const std::error_code& ec, const std::string& host,
                                       const TlsConfig& config) {
  std::string out;
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    out = describe_verify_error(verify, host, config);
  else
    out = ec.message();
  // The peer's certificate is kept only once it is verified; the chain it
  // sent is there either way (its leaf first, on the client side).
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl); !cert && chain && sk_X509_num(chain) > 0)
    cert = sk_X509_value(chain, 0);
  if (cert) out += "; the peer presented " + subject_of(cert);
  return out;
}

std::optional<std::string> certificate_subject(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::string out = subject_of(cert);
  X509_free(cert);
  return out;
}

std::optional<std::string> certificate_principal(SSL* ssl) {
  auto subject = certificate_subject(ssl);
  if (!subject) return std::nullopt;
  return "User:" + *subject;
}

TlsContextSource::TlsContextSource(TlsConfig config, TlsSide side) : config_(std::move(config)), side_(side) {
  for (const auto* f : {&config_.keystore_location, &config_.truststore_location})
    if (!f->empty()) files_.push_back(*f);
  loaded_ = stamps();
  context_ = make_tls_context(config_, side_);
}

std::shared_ptr<asio::ssl::context> TlsContextSource::current() const {
  std::lock_guard lock(mutex_);
  return context_;
}

std::vector<TlsContextSource::Stamp> TlsContextSource::stamps() const {
  std::vector<Stamp> out;
  for (const auto& f : files_) {
    Stamp s;
    std::error_code ec;
    s.mtime = std::filesystem::last_write_time(f, ec);
    if (!ec) s.size = std::filesystem::file_size(f, ec);
    s.exists = !ec;
    out.push_back(s);
  }
  return out;
}

TlsContextSource::Reload TlsContextSource::reload_if_changed(std::string* error) {
  auto now = stamps();
  {
    std::lock_guard lock(mutex_);
    if (now == loaded_) return Reload::kUnchanged;
    loaded_ = now;  // a failure is not retried until the files change again
  }
  try {
    auto fresh = make_tls_context(config_, side_);
    std::lock_guard lock(mutex_);
    context_ = std::move(fresh);
    return Reload::kReloaded;
  } catch (const std::exception& e) {
    *error = e.what();
    return Reload::kFailed;
  }
}

}  // namespace runnel::security
