#include "app/peer_login.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "app/admin_client.h"
#include "base/thread_name.h"
#include "protocol/headers.h"
#include "protocol/messages.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "security/sasl_client.h"
#include "security/tls_context.h"

namespace runnel::app {

namespace {

constexpr int kConnectTimeoutMs = 3000;

// The peer refused the user's login (wrong mechanism for their credential, or password).
struct LoginRefused : AdminError {
  using AdminError::AdminError;
};
constexpr int kLoginTimeoutSeconds = 10;

void set_io_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A TCP connection to host:port within kConnectTimeoutMs, blocking again.
int dial(const std::string& host, const std::string& port, const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw AdminError("cannot resolve " + address + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  int connected = -1;
  for (addrinfo* a = res; a != nullptr && connected < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int r = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      r = ::poll(&p, 1, kConnectTimeoutMs);
      if (r == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
        errno = err;
      } else {
        int saved = r == 0 ? ETIMEDOUT : errno;
        r = -1;
        errno = saved;
      }
    }
    if (r == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      connected = fd;
    } else {
      last_error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (connected < 0) throw AdminError("cannot connect to " + address + ": " + last_error);
  return connected;
}

bool send_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool recv_all(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// One request and its response on a fresh connection (the login's two or
// three round trips), as AdminClient frames them.
template <class Response, class Request>
Response exchange(int fd, const Request& request, int16_t version, int32_t correlation_id, const std::string& address) {
  protocol::Writer w;
  protocol::RequestHeader header;
  header.api_key = Request::kApiKey;
  header.api_version = version;
  header.correlation_id = correlation_id;
  header.client_id = std::string("runnel-admin-proxy");
  header.write(w, protocol::request_header_version(Request::kApiKey, version));
  request.write(w, version);
  std::vector<uint8_t> body = std::move(w).finish().buffer;
  uint32_t size = static_cast<uint32_t>(body.size());
  uint8_t prefix[4] = {static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16),
                       static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)};
  if (!send_all(fd, prefix, 4) || !send_all(fd, body.data(), body.size()))
    throw AdminError("logging in to " + address + ": connection lost");
  if (!recv_all(fd, prefix, 4)) throw AdminError("logging in to " + address + ": connection closed by the broker");
  uint32_t length = (uint32_t{prefix[0]} << 24) | (uint32_t{prefix[1]} << 16) | (uint32_t{prefix[2]} << 8) | prefix[3];
  if (length > (1u << 20)) throw AdminError("logging in to " + address + ": oversized response");
  std::vector<uint8_t> answer(length);
  if (!recv_all(fd, answer.data(), answer.size()))
    throw AdminError("logging in to " + address + ": connection closed by the broker");
  try {
    protocol::Reader r{std::span<const uint8_t>(answer)};
    protocol::ResponseHeader rh;
    rh.read(r, protocol::response_header_version(Request::kApiKey, version));
    Response response;
    response.read(r, version);
    return response;
  } catch (const std::exception& e) {
    throw AdminError("logging in to " + address + ": undecodable response: " + e.what());
  }
}

void sasl_login(int fd, const std::string& mechanism, const std::string& username, const std::string& password,
                const std::string& address) {
  protocol::SaslHandshakeRequest handshake;
  handshake.mechanism = mechanism;
  auto hs = exchange<protocol::SaslHandshakeResponse>(fd, handshake, 1, 1, address);
  if (hs.error_code != 0)
    throw AdminError("broker " + address + " refused SASL mechanism " + mechanism + ": " + error_text(hs.error_code));
  security::SaslClient client(mechanism, username, password);
  auto step = client.start();
  for (int round = 0; round < 4; ++round) {
    if (step.outcome == security::SaslClient::Outcome::kFailed)
      throw AdminError("SASL login to " + address + " failed: " + step.error);
    if (step.outcome == security::SaslClient::Outcome::kDone) return;
    protocol::SaslAuthenticateRequest auth;
    auth.auth_bytes = std::move(step.token);
    auto answer = exchange<protocol::SaslAuthenticateResponse>(fd, auth, 1, 2 + round, address);
    if (answer.error_code != 0)
      throw LoginRefused("SASL login to " + address + " as " + username +
                         " failed: " + error_text(answer.error_code, answer.error_message));
    step = client.step(answer.auth_bytes);
  }
  if (step.outcome != security::SaslClient::Outcome::kDone)
    throw AdminError("SASL login to " + address + " did not finish");
}

// Moves bytes between the AdminClient's end of the pair and the TLS
// session until either side closes; owns and frees everything it gets.
void relay(SSL* ssl, int tcp, int local, std::shared_ptr<asio::ssl::context> context) {
  set_io_timeout(tcp, 0);
  std::vector<uint8_t> buffer(64 * 1024);
  for (;;) {
    bool tls_ready = SSL_pending(ssl) > 0;
    if (!tls_ready) {
      pollfd p[2] = {{tcp, POLLIN, 0}, {local, POLLIN, 0}};
      int r = ::poll(p, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(local, buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (SSL_write(ssl, buffer.data(), static_cast<int>(n)) != static_cast<int>(n)) break;
        continue;
      }
      tls_ready = p[0].revents & (POLLIN | POLLHUP | POLLERR);
    }
    if (tls_ready) {
      int n = SSL_read(ssl, buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) {
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
        break;
      }
      if (!send_all(local, buffer.data(), static_cast<size_t>(n))) break;
    }
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::close(tcp);
  ::close(local);
  context.reset();
}

}  // namespace

std::vector<std::string> login_mechanisms(const std::vector<std::string>& enabled) {
  std::vector<std::string> out;
  for (const char* m : {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"})
    if (std::find(enabled.begin(), enabled.end(), m) != enabled.end()) out.push_back(m);
  return out;
}

namespace {

int connect_with(const PeerLogin& login, const std::string& address, const std::string& mechanism,
                 const std::string& username, const std::string& password) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw AdminError("expected HOST:PORT, got '" + address + "'");
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int tcp = dial(host, port, address);
  set_io_timeout(tcp, kLoginTimeoutSeconds);
  if (!uses_tls(login.protocol)) {
    try {
      if (!mechanism.empty()) sasl_login(tcp, mechanism, username, password, address);
    } catch (...) {
      ::close(tcp);
      throw;
    }
    return tcp;
  }
  if (!login.tls) {
    ::close(tcp);
    throw AdminError("broker " + address +
                     " is reached over TLS, and this broker has no TLS client settings for it (ssl.truststore.*)");
  }
  auto context = login.tls->current();
  SSL* ssl = SSL_new(context->native_handle());
  std::string error;
  if (!ssl || !security::expect_peer_identity(ssl, host, security::verifies_endpoint(login.tls->config()), &error) ||
      SSL_set_fd(ssl, tcp) != 1) {
    if (ssl) SSL_free(ssl);
    ::close(tcp);
    throw AdminError("TLS to " + address + ": " + (error.empty() ? "cannot set up the session" : error));
  }
  // SSL_read returns after records that carry no data (TLS 1.3 session
  // tickets) instead of blocking for more, so the relay never sits in it
  // while the AdminClient has a request to send.
  SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
  ERR_clear_error();
  if (int r = SSL_connect(ssl); r != 1) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? security::describe_verify_error(verify, host, login.tls->config())
                                          : "handshake failed (error " + std::to_string(SSL_get_error(ssl, r)) + ")";
    SSL_free(ssl);
    ::close(tcp);
    throw AdminError("TLS to " + address + ": " + why);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    SSL_free(ssl);
    ::close(tcp);
    throw AdminError(std::string("socketpair: ") + std::strerror(errno));
  }
  std::thread([=] {
    name_this_thread("tls-relay");
    relay(ssl, tcp, pair[1], context);
  }).detach();
  set_io_timeout(pair[0], kLoginTimeoutSeconds);
  try {
    if (!mechanism.empty()) sasl_login(pair[0], mechanism, username, password, address);
  } catch (...) {
    ::close(pair[0]);  // the relay sees it and ends
    throw;
  }
  return pair[0];
}

}  // namespace

int connect_as_user(const PeerLogin& login, const std::string& address, const std::string& username,
                    const std::string& password) {
  if (!uses_sasl(login.protocol)) return connect_with(login, address, "", "", "");  // SSL: the handshake only
  auto mechanisms = login_mechanisms(login.mechanisms);
  if (mechanisms.empty())
    throw AdminError("no SASL mechanism runnel can log in with (PLAIN, SCRAM-SHA-256/512) is enabled");
  for (size_t i = 0;; ++i) {
    try {
      return connect_with(login, address, mechanisms[i], username, password);
    } catch (const LoginRefused& e) {
      // A SCRAM mechanism the user has no credential for: try the next one.
      if (i + 1 == mechanisms.size()) throw AdminError(e.what());
    }
  }
}

}  // namespace runnel::app
