// TlsSocket (server/tls_socket.h) on a real loopback TCP connection against a
// blocking OpenSSL client in a thread: the client writes the way librdkafka
// does (one SSL_write per buffer segment: 1 KiB payloads between 9- and
// 10-byte headers, so many small records that straddle the read-ahead
// BIO's recv boundaries), the server reads them back byte for byte, writes
// a large buffer back, and a client that goes away without a close_notify
// ends the server's read with stream_truncated. The certificate is made
// here with OpenSSL's API (no key committed).
#include "server/tls_socket.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace runnel {
namespace {

// A self-signed EC P-256 certificate and its key, as one PEM file.
std::filesystem::path make_keystore() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  auto path = std::filesystem::temp_directory_path() / ("runnel-tls-socket-test-" + std::to_string(::getpid()));
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_X509(f, cert);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
  return path;
}

// Bytes 0..n-1 of a pattern both sides can check.
uint8_t pattern(size_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 7)); }

TEST(TlsSocketTest, SmallRecordsInLargeWritesOutAndTruncation) {
  const auto keystore = make_keystore();
  asio::ssl::context server_ctx(asio::ssl::context::tls_server);
  server_ctx.use_certificate_chain_file(keystore.string());
  server_ctx.use_private_key_file(keystore.string(), asio::ssl::context::pem);
  std::filesystem::remove(keystore);

  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();

  // What the client sends: segments of 1024, 10 and 9 bytes, 3 MB in all.
  std::vector<size_t> segments;
  size_t to_server = 0;
  for (size_t i = 0; to_server < (3u << 20); ++i) {
    size_t n = i % 3 == 0 ? 1024 : i % 3 == 1 ? 10 : 9;
    segments.push_back(n);
    to_server += n;
  }
  const size_t to_client = 5u << 20;

  std::string client_error;
  size_t client_received = 0;
  std::thread client([&] {
    asio::io_context cio;
    asio::ip::tcp::socket sock(cio);
    sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, sock.native_handle());
    if (SSL_connect(ssl) != 1) {
      client_error = "SSL_connect failed";
    } else {
      std::vector<uint8_t> out(to_server);
      for (size_t i = 0; i < to_server; ++i) out[i] = pattern(i);
      size_t at = 0;
      for (size_t n : segments) {  // one SSL_write, so one record, per segment
        if (SSL_write(ssl, out.data() + at, static_cast<int>(n)) != static_cast<int>(n)) {
          client_error = "SSL_write failed";
          break;
        }
        at += n;
      }
      std::vector<uint8_t> in(64 << 10);
      while (client_error.empty() && client_received < to_client) {
        int r = SSL_read(ssl, in.data(), static_cast<int>(in.size()));
        if (r <= 0) {
          client_error = "SSL_read failed";
          break;
        }
        for (int k = 0; k < r; ++k)
          if (in[static_cast<size_t>(k)] != pattern(client_received + static_cast<size_t>(k))) {
            client_error = "client read wrong bytes at " + std::to_string(client_received + static_cast<size_t>(k));
            break;
          }
        client_received += static_cast<size_t>(r);
      }
    }
    // Gone without a close_notify, as most Kafka clients go.
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    sock.close();
  });

  std::error_code handshake_error;
  size_t server_received = 0;
  bool server_bytes_ok = true;
  std::error_code end_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto sock = co_await acceptor.async_accept(asio::use_awaitable);
        TlsSocket tls(sock, server_ctx);
        handshake_error = co_await tls.handshake();
        if (handshake_error) co_return;
        std::vector<uint8_t> buf(to_server);
        // read_some into odd sizes, then read() for the rest.
        while (server_received < 100000)
          server_received += co_await tls.read_some(asio::buffer(buf.data() + server_received, 777));
        co_await tls.read(asio::buffer(buf.data() + server_received, to_server - server_received));
        server_received = to_server;
        for (size_t i = 0; i < to_server; ++i)
          if (buf[i] != pattern(i)) server_bytes_ok = false;
        std::vector<uint8_t> out(to_client);
        for (size_t i = 0; i < to_client; ++i) out[i] = pattern(i);
        co_await tls.write(asio::buffer(out));
        try {
          uint8_t byte;
          co_await tls.read_some(asio::buffer(&byte, 1));
        } catch (const std::system_error& e) {
          end_error = e.code();
        }
      },
      asio::detached);
  io.run();
  client.join();

  EXPECT_EQ(client_error, "");
  EXPECT_FALSE(handshake_error) << handshake_error.message();
  EXPECT_EQ(server_received, to_server);
  EXPECT_TRUE(server_bytes_ok);
  EXPECT_EQ(client_received, to_client);
  EXPECT_EQ(end_error, asio::ssl::error::stream_truncated) << end_error.message();
}

}  // namespace
}  // namespace runnel
