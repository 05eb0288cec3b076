// The TLS contexts (security/tls_context.h), client against server, through
// an in-memory BIO pair: the inter-broker client verifies the peer's chain
// against its truststore and its IP address or name per
// ssl.endpoint.identification.algorithm, presents its keystore certificate
// (the server maps it to User:CN=...), and a context source reloads changed
// files. The certificates are made here with OpenSSL's API (no key committed).
#include "security/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace runnel::security {
namespace {

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyAndCert() = default;
  KeyAndCert(const KeyAndCert&) = delete;
  KeyAndCert& operator=(const KeyAndCert&) = delete;
  ~KeyAndCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// An EC P-256 certificate for O=<o>/CN=<cn>, signed by `issuer` (itself when
// null, as a CA), with subjectAltName `san` when not empty.
void make_cert(KeyAndCert& out, const std::string& o, const std::string& cn, const KeyAndCert* issuer,
               const std::string& san) {
  out.key = EVP_EC_gen("P-256");
  ASSERT_NE(out.key, nullptr);
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  static std::mt19937 serials(std::random_device{}());
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), static_cast<long>(serials() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 24 * 3600);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(issuer_cert));
  if (!issuer) add_extension(out.cert, out.cert, NID_basic_constraints, "critical,CA:TRUE");
  if (!san.empty()) add_extension(out.cert, issuer_cert, NID_subject_alt_name, san.c_str());
  ASSERT_GT(X509_sign(out.cert, issuer ? issuer->key : out.key, EVP_sha256()), 0);
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("runnel-tls-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    make_cert(ca_, "runnel", "test-ca", nullptr, "");
    make_cert(other_ca_, "elsewhere", "other-ca", nullptr, "");
    make_cert(broker_, "runnel", "broker", &ca_, "IP:127.0.0.1,DNS:localhost");
    write_file(dir_ / "ca.pem", pem_of(ca_.cert));
    write_file(dir_ / "other-ca.pem", pem_of(other_ca_.cert));
    write_file(dir_ / "broker.pem", pem_of(broker_.key) + pem_of(broker_.cert));
    config_.keystore_location = (dir_ / "broker.pem").string();
    config_.truststore_location = (dir_ / "ca.pem").string();
    config_.client_auth = "required";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  struct Outcome {
    bool client_ok = false;
    bool server_ok = false;
    std::string client_failure;            // describe_handshake_failure's text
    std::optional<std::string> principal;  // what the server maps the client's certificate to
    std::string version;                   // the protocol negotiated ("TLSv1.3")
    std::string cipher;                    // the suite negotiated
  };
  // One handshake between fresh SSL objects of the two contexts, the client
  // expecting `host`.
  Outcome handshake(const TlsConfig& server_config, const TlsConfig& client_config, const std::string& host) {
    auto server_ctx = make_tls_context(server_config, TlsSide::kServer);
    auto client_ctx = make_tls_context(client_config, TlsSide::kClient);
    SSL* server = SSL_new(server_ctx->native_handle());
    SSL* client = SSL_new(client_ctx->native_handle());
    BIO *client_bio = nullptr, *server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    Outcome out;
    std::string error;
    EXPECT_TRUE(expect_peer_identity(client, host, verifies_endpoint(client_config), &error)) << error;
    bool client_done = false, server_done = false, client_failed = false, server_failed = false;
    for (int round = 0; round < 50 && !(client_failed || server_failed) && !(client_done && server_done); ++round) {
      if (!client_done) {
        int rc = SSL_do_handshake(client);
        if (rc == 1) {
          client_done = true;
        } else {
          int e = SSL_get_error(client, rc);
          client_failed = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
      }
      if (!server_done) {
        int rc = SSL_do_handshake(server);
        if (rc == 1) {
          server_done = true;
        } else {
          int e = SSL_get_error(server, rc);
          server_failed = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
      }
    }
    out.client_ok = client_done && !client_failed;
    out.server_ok = server_done && !server_failed;
    if (client_failed)
      out.client_failure =
          describe_handshake_failure(client, std::make_error_code(std::errc::connection_aborted), host, client_config);
    if (server_done) out.principal = certificate_principal(server);
    if (client_done) {
      out.version = SSL_get_version(client);
      out.cipher = SSL_get_cipher_name(client);
    }
    ERR_clear_error();
    SSL_free(client);
    SSL_free(server);
    return out;
  }

  std::filesystem::path dir_;
  KeyAndCert ca_, other_ca_, broker_;
  TlsConfig config_;
};

TEST_F(TlsContextTest, MutualTlsBetweenBrokersNamesTheCertificatePrincipal) {
  auto out = handshake(config_, config_, "127.0.0.1");
  EXPECT_TRUE(out.client_ok) << out.client_failure;
  EXPECT_TRUE(out.server_ok);
  EXPECT_EQ(out.principal, "User:CN=broker,O=runnel");
  // A DNS name the certificate carries.
  out = handshake(config_, config_, "localhost");
  EXPECT_TRUE(out.client_ok && out.server_ok) << out.client_failure;
}

TEST_F(TlsContextTest, EndpointIdentificationChecksTheIpAddressOrName) {
  auto out = handshake(config_, config_, "127.0.0.2");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.client_failure.find("IP address mismatch"), std::string::npos) << out.client_failure;
  EXPECT_NE(out.client_failure.find("does not name 127.0.0.2"), std::string::npos) << out.client_failure;
  EXPECT_NE(out.client_failure.find("the peer presented CN=broker,O=runnel"), std::string::npos) << out.client_failure;
  out = handshake(config_, config_, "broker7.example.com");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.client_failure.find("hostname mismatch"), std::string::npos) << out.client_failure;
  // ssl.endpoint.identification.algorithm= (empty): the chain only.
  TlsConfig unchecked = config_;
  unchecked.endpoint_identification_algorithm = "";
  EXPECT_FALSE(verifies_endpoint(unchecked));
  out = handshake(config_, unchecked, "127.0.0.2");
  EXPECT_TRUE(out.client_ok && out.server_ok) << out.client_failure;
}

TEST_F(TlsContextTest, AnUntrustedPeerIsRefusedNamingTheTruststore) {
  TlsConfig client = config_;
  client.truststore_location = (dir_ / "other-ca.pem").string();
  auto out = handshake(config_, client, "127.0.0.1");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.client_failure.find("certificate verify failed"), std::string::npos) << out.client_failure;
  EXPECT_NE(out.client_failure.find("ssl.truststore.location " + client.truststore_location), std::string::npos)
      << out.client_failure;
}

TEST_F(TlsContextTest, ServerRequiringAClientCertificateRefusesOneWithout) {
  TlsConfig client = config_;
  client.keystore_location.clear();
  auto out = handshake(config_, client, "127.0.0.1");
  EXPECT_FALSE(out.server_ok);
  EXPECT_FALSE(out.principal.has_value());
}

TEST_F(TlsContextTest, BothSidesHonourEnabledProtocolsAndCipherSuites) {
  auto out = handshake(config_, config_, "127.0.0.1");
  EXPECT_EQ(out.version, "TLSv1.3");
  TlsConfig tls12 = config_;
  tls12.enabled_protocols = {"TLSv1.2"};
  tls12.cipher_suites = {"ECDHE-ECDSA-AES128-GCM-SHA256"};
  out = handshake(config_, tls12, "127.0.0.1");
  EXPECT_TRUE(out.client_ok && out.server_ok) << out.client_failure;
  EXPECT_EQ(out.version, "TLSv1.2");
  EXPECT_EQ(out.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
  TlsConfig tls13 = config_;
  tls13.enabled_protocols = {"TLSv1.3"};
  tls13.cipher_suites = {"TLS_CHACHA20_POLY1305_SHA256"};
  out = handshake(config_, tls13, "127.0.0.1");
  EXPECT_EQ(out.cipher, "TLS_CHACHA20_POLY1305_SHA256");
  // No protocol in common: no connection.
  out = handshake(tls13, tls12, "127.0.0.1");
  EXPECT_FALSE(out.client_ok);
  EXPECT_FALSE(out.server_ok);
}

TEST_F(TlsContextTest, TheClientSideNeedsATruststore) {
  TlsConfig client = config_;
  client.truststore_location.clear();
  try {
    make_tls_context(client, TlsSide::kClient);
    FAIL() << "no truststore accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ssl.truststore.location"), std::string::npos) << e.what();
  }
  client.truststore_location = (dir_ / "missing.pem").string();
  EXPECT_THROW(make_tls_context(client, TlsSide::kClient), std::runtime_error);
}

std::string presented_subject(const TlsContextSource& source) {
  X509* cert = SSL_CTX_get0_certificate(source.current()->native_handle());
  if (!cert) return "";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

TEST_F(TlsContextTest, SourceReloadsChangedFilesAndKeepsTheOldContextOnFailure) {
  TlsContextSource source(config_, TlsSide::kServer);
  auto first = source.current();
  std::string error;
  EXPECT_EQ(source.reload_if_changed(&error), TlsContextSource::Reload::kUnchanged);
  EXPECT_EQ(source.current(), first);
  EXPECT_EQ(presented_subject(source), "/O=runnel/CN=broker");

  // A new certificate in the keystore file.
  KeyAndCert renewed;
  make_cert(renewed, "runnel", "broker-renewed", &ca_, "IP:127.0.0.1");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
  write_file(config_.keystore_location, pem_of(renewed.key) + pem_of(renewed.cert));
  EXPECT_EQ(source.reload_if_changed(&error), TlsContextSource::Reload::kReloaded) << error;
  EXPECT_NE(source.current(), first);
  EXPECT_EQ(presented_subject(source), "/O=runnel/CN=broker-renewed");

  // A broken file: the renewed context stays, and the failure is said once.
  auto renewed_ctx = source.current();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_file(config_.keystore_location, "not a PEM file\n");
  EXPECT_EQ(source.reload_if_changed(&error), TlsContextSource::Reload::kFailed);
  EXPECT_NE(error.find("ssl.keystore.location"), std::string::npos) << error;
  EXPECT_EQ(source.current(), renewed_ctx);
  EXPECT_EQ(source.reload_if_changed(&error), TlsContextSource::Reload::kUnchanged);
}

}  // namespace
}  // namespace runnel::security
