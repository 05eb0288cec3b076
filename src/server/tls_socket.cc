#include "server/tls_socket.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace runnel {

namespace {

// The read side's BIO: recv()s up to kReadAheadBytes of the socket into its
// buffer and hands OpenSSL the bytes it asks for (a record's 5-byte header,
// then its body) from there. OpenSSL's own read-ahead would do the recv, but
// it moves every byte left in its buffer to the front before each record
// (ssl3_read_n, OpenSSL 3.0): with librdkafka's small records that was 27%
// of the broker's CPU (perf, 1 KiB produce). Writes go through a plain
// socket BIO, so kTLS can still take over sending.
struct ReadAhead {
  int fd = -1;
  std::unique_ptr<uint8_t[]> bytes;
  size_t begin = 0, end = 0;
  bool eof = false;
};

int read_ahead_read(BIO* bio, char* out, int size) {
  auto* r = static_cast<ReadAhead*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (size <= 0) return 0;
  if (r->begin == r->end) {
    if (!r->bytes) r->bytes.reset(new uint8_t[TlsSocket::kReadAheadBytes]);  // not zero-filled
    ssize_t n;
    do {
      n = ::recv(r->fd, r->bytes.get(), TlsSocket::kReadAheadBytes, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
      return -1;
    }
    if (n == 0) {
      r->eof = true;
      return 0;
    }
    r->begin = 0;
    r->end = static_cast<size_t>(n);
  }
  const size_t k = std::min(static_cast<size_t>(size), r->end - r->begin);
  std::memcpy(out, r->bytes.get() + r->begin, k);
  r->begin += k;
  return static_cast<int>(k);
}

long read_ahead_ctrl(BIO* bio, int cmd, long, void*) {
  auto* r = static_cast<ReadAhead*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return r->eof && r->begin == r->end ? 1 : 0;
    case BIO_CTRL_PENDING:
      return static_cast<long>(r->end - r->begin);
    default:
      return 0;  // no kTLS on the read side (OpenSSL 3.0 has none for TLS 1.3 either)
  }
}

int read_ahead_destroy(BIO* bio) {
  delete static_cast<ReadAhead*>(BIO_get_data(bio));
  BIO_set_data(bio, nullptr);
  return 1;
}

const BIO_METHOD* read_ahead_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "runnel read-ahead");
    if (!m) throw std::runtime_error("BIO_meth_new failed");
    BIO_meth_set_read(m, read_ahead_read);
    BIO_meth_set_ctrl(m, read_ahead_ctrl);
    BIO_meth_set_destroy(m, read_ahead_destroy);
    return m;
  }();
  return method;
}

}  // namespace

TlsSocket::TlsSocket(asio::ip::tcp::socket& socket, asio::ssl::context& context) : socket_(socket) {
  socket_.native_non_blocking(true);
  const int fd = socket_.native_handle();
  BIO* rbio = BIO_new(read_ahead_method());
  BIO* wbio = BIO_new_socket(fd, BIO_NOCLOSE);
  ssl_ = SSL_new(context.native_handle());
  if (!rbio || !wbio || !ssl_) {
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(ssl_);
    throw std::runtime_error("cannot set up a TLS session (out of memory)");
  }
  auto* ahead = new ReadAhead;
  ahead->fd = fd;
  BIO_set_data(rbio, ahead);
  BIO_set_init(rbio, 1);
  SSL_set_bio(ssl_, rbio, wbio);  // the SSL owns both
  // Partial writes: write() resumes after a full socket buffer by itself.
  // No SSL_MODE_RELEASE_BUFFERS: the record buffers stay for the next record.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // kTLS where the kernel has it (else OpenSSL quietly keeps encrypting);
  // no renegotiation (TLS 1.2), so a write never waits for the peer's data.
  SSL_set_options(ssl_, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION);
  SSL_set_accept_state(ssl_);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

asio::awaitable<std::error_code> TlsSocket::await_progress(int ret, int saved_errno) {
  const int error = SSL_get_error(ssl_, ret);
  std::error_code ec;
  switch (error) {
    case SSL_ERROR_WANT_READ:
      co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
      co_return ec;
    case SSL_ERROR_WANT_WRITE:
      co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
      co_return ec;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      co_return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      ERR_clear_error();
      if (saved_errno == 0) co_return asio::ssl::error::stream_truncated;  // EOF without close_notify
      co_return std::error_code(saved_errno, asio::error::get_system_category());
    }
    default: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        co_return asio::ssl::error::stream_truncated;
      if (e == 0) co_return asio::ssl::error::unexpected_result;
      co_return std::error_code(static_cast<int>(e), asio::error::get_ssl_category());
    }
  }
}

asio::awaitable<std::error_code> TlsSocket::handshake() {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) co_return std::error_code{};
    const int saved_errno = errno;
    if (auto ec = co_await await_progress(ret, saved_errno)) co_return ec;
  }
}

asio::awaitable<size_t> TlsSocket::read_some(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return 0;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    const int ret = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    if (ret == 1) co_return n;
    const int saved_errno = errno;
    if (auto ec = co_await await_progress(ret, saved_errno)) throw std::system_error(ec, "TLS read");
  }
}

asio::awaitable<void> TlsSocket::read(asio::mutable_buffer buffer) {
  auto* p = static_cast<uint8_t*>(buffer.data());
  size_t left = buffer.size();
  while (left > 0) {
    size_t n = co_await read_some(asio::buffer(p, left));
    p += n;
    left -= n;
  }
}

asio::awaitable<void> TlsSocket::write(asio::const_buffer buffer) {
  const auto* p = static_cast<const uint8_t*>(buffer.data());
  size_t left = buffer.size();
  while (left > 0) {
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    const int ret = SSL_write_ex(ssl_, p, left, &n);
    if (ret == 1) {
      p += n;
      left -= n;
      continue;
    }
    const int saved_errno = errno;
    if (auto ec = co_await await_progress(ret, saved_errno)) throw std::system_error(ec, "TLS write");
  }
}

bool TlsSocket::ktls_send() const { return BIO_get_ktls_send(SSL_get_wbio(ssl_)); }

asio::awaitable<void> TlsSocket::send_file(int fd, uint64_t offset, size_t length) {
  while (length > 0) {
    ERR_clear_error();
    errno = 0;
    const ossl_ssize_t n = SSL_sendfile(ssl_, fd, static_cast<off_t>(offset), length, 0);
    if (n > 0) {
      offset += static_cast<uint64_t>(n);
      length -= static_cast<size_t>(n);
      continue;
    }
    const int saved_errno = errno;
    // n == 0: the file is shorter than the slice (truncated under us).
    if (n == 0) throw std::system_error(EIO, std::system_category(), "SSL_sendfile");
    if (auto ec = co_await await_progress(static_cast<int>(n), saved_errno))
      throw std::system_error(ec, "SSL_sendfile");
  }
}

}  // namespace runnel
