#pragma once
// The server side of one TLS connection, with OpenSSL reading and writing the
// connection's socket itself (a socket BIO on its descriptor, non-blocking;
// the coroutines wait for readiness with asio and call OpenSSL again).
//
// Why not asio::ssl::stream: its engine puts a 17 KiB BIO pair between
// OpenSSL and the socket, so every byte is copied twice more each way and
// every 16 KiB record costs a syscall of its own, and it asks OpenSSL to free
// its record buffers whenever they are empty (SSL_MODE_RELEASE_BUFFERS: a
// malloc and free per record). Here one recv reads up to kReadAheadBytes
// ahead (a BIO of our own, see tls_socket.cc), OpenSSL keeps its buffers
// and writes the socket itself, and, where the kernel has kTLS
// (SSL_OP_ENABLE_KTLS, OpenSSL 3), encrypts in the kernel: then
// ktls_send() is true and send_file() uses SSL_sendfile, as plaintext uses
// sendfile. Without kTLS (this VM's kernel has none) send_file() is not used.
//
// Errors are thrown as std::system_error: asio::error::eof for a close_notify,
// asio::ssl::error::stream_truncated for a peer that closed without one,
// errno values in asio's system category, OpenSSL's in asio's SSL category
// (the same codes asio::ssl::stream gives).
//
// Thread-safety: used on the connection's shard only. One read and one write
// may be in progress at a time (the connection's reader and writer).
#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace runnel {

class TlsSocket {
 public:
  // How much OpenSSL reads from the socket at once (read-ahead): several
  // records per recv, as the plaintext path reads 64 KiB.
  static constexpr size_t kReadAheadBytes = 128 << 10;

  TlsSocket(asio::ip::tcp::socket& socket, asio::ssl::context& context);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  SSL* native_handle() const { return ssl_; }

  // The server handshake; an error code (not thrown) when it failed.
  asio::awaitable<std::error_code> handshake();
  // At least one byte (a record's worth at most).
  asio::awaitable<size_t> read_some(asio::mutable_buffer buffer);
  // Exactly buffer.size() bytes.
  asio::awaitable<void> read(asio::mutable_buffer buffer);
  // All of it, as few records as the record size allows (16 KiB each).
  asio::awaitable<void> write(asio::const_buffer buffer);

  // Whether the kernel encrypts what is sent (kTLS was set up after the handshake).
  bool ktls_send() const;
  // With ktls_send(): `length` bytes of `fd` from `offset`, through the kernel.
  asio::awaitable<void> send_file(int fd, uint64_t offset, size_t length);

 private:
  // After an OpenSSL call returned `ret` <= 0: waits for what it wants
  // (readable, writable) and returns no error, or returns the error.
  asio::awaitable<std::error_code> await_progress(int ret, int saved_errno);

  asio::ip::tcp::socket& socket_;
  SSL* ssl_ = nullptr;
};

}  // namespace runnel
