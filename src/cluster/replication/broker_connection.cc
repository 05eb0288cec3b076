#include "cluster/replication/broker_connection.h"

#include <netinet/tcp.h>

#include <asio/ssl.hpp>

#include "base/endian.h"

namespace runnel::cluster::replication {

namespace {

// Closes `socket` when `timeout` passes before cancel() is called: every
// pending operation on it then fails, which ends the exchange.
class Deadline {
 public:
  Deadline(asio::io_context& io, asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout)
      : timer_(io, timeout) {
    timer_.async_wait([&socket, fired = fired_](const asio::error_code& ec) {
      if (ec) return;
      *fired = true;
      asio::error_code ignored;
      socket.close(ignored);
    });
  }
  ~Deadline() { timer_.cancel(); }
  bool fired() const { return *fired_; }

 private:
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
  asio::steady_timer timer_;
};

}  // namespace

asio::awaitable<std::error_code> BrokerConnection::connect(const std::string& host, uint16_t port,
                                                           std::chrono::milliseconds timeout) {
  reset();
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  const std::string service = std::to_string(port);
  auto endpoints = co_await resolver.async_resolve(host, service, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  socket_.emplace(io_);
  {
    // Linux resends an unanswered SYN after 1 s, then 3 s and 7 s: waiting
    // out those retransmissions leaves seconds without a SYN in flight after
    // a partition heals. One SYN per attempt, and the caller's next attempt,
    // find the healed link within about a second.
    Deadline deadline(io_, *socket_, std::min(timeout, kSynTimeout));
    co_await asio::async_connect(*socket_, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.fired()) ec = asio::error::timed_out;
  }
  if (ec) {
    close();
    co_return ec;
  }
  socket_->set_option(asio::ip::tcp::no_delay(true), ec);
  // A request sent into a network partition is retransmitted by TCP with a
  // doubling timeout, so after the network heals the connection can stay
  // silent for as long again (a fetch sent 6 s into a cut waited ~6 s more),
  // and the follower stays out of the ISR all that while. Unacknowledged data
  // for kUnackedDataTimeout means the peer's kernel is unreachable (a busy
  // peer still acknowledges): the socket fails, and the caller connects anew.
  socket_->set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_USER_TIMEOUT>(
                          static_cast<int>(kUnackedDataTimeout.count())),
                      ec);
  // The other half: a request the peer acknowledged before the cut, whose
  // response is lost in it (a parked fetch), leaves nothing unacknowledged
  // here, and the caller would wait for its own deadline (a fetch's is the
  // long poll plus 10 s; chaos runs showed a follower back 1.3 s after the
  // others for that). Keepalive probes from the first idle second are data
  // the peer must acknowledge, so the same timeout then fails the socket.
  socket_->set_option(asio::socket_base::keep_alive(true), ec);
  socket_->set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(1), ec);
  socket_->set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(1), ec);
  refused_at_ = Stage::kNone;
  auth_error_.clear();
  if (tls_source_) {
    if (auto failed = co_await handshake(host, timeout)) co_return failed;
  }
  if (sasl_) co_return co_await authenticate(timeout);
  co_return std::error_code{};
}

asio::awaitable<std::error_code> BrokerConnection::handshake(const std::string& host,
                                                             std::chrono::milliseconds timeout) {
  tls_context_ = tls_source_->current();
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(*socket_, *tls_context_);
  const auto& config = tls_source_->config();
  auto refuse = [this](std::string why) {
    refused_at_ = Stage::kTls;
    auth_error_ = std::move(why);
    close();
    return std::make_error_code(std::errc::permission_denied);
  };
  std::string error;
  if (!security::expect_peer_identity(tls_->native_handle(), host, security::verifies_endpoint(config), &error))
    co_return refuse(error);
  asio::error_code ec;
  bool timed_out = false;
  {
    Deadline deadline(io_, *socket_, timeout);
    co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    timed_out = deadline.fired();
  }
  if (timed_out) co_return refuse("the TLS handshake timed out (is the peer's listener TLS?)");
  // OpenSSL's verdicts (a certificate not trusted or not naming the host,
  // the peer's alert, no protocol or suite in common) are refusals; the
  // connection dropping mid-handshake (a peer going down) is not.
  if (ec && ec.category() == asio::error::get_ssl_category())
    co_return refuse(security::describe_handshake_failure(tls_->native_handle(), ec, host, config));
  if (ec) {
    close();
    co_return ec;
  }
  co_return std::error_code{};
}

bool BrokerConnection::last_error_is_tls() const {
  // OpenSSL's errors (an alert from the peer, a record that does not
  // decrypt); not the stream's, such as a peer gone without close_notify.
  return last_error_.category() == asio::error::get_ssl_category();
}

bool BrokerConnection::connected() const {
  if (!socket_.has_value() || !socket_->is_open()) return false;
  return !session_ends_ || std::chrono::steady_clock::now() < *session_ends_;
}

void BrokerConnection::close() {
  session_ends_.reset();
  // The socket only: a coroutine may still be suspended in an operation on
  // it or on the TLS stream over it (the fetcher is stopped mid-fetch),
  // which then ends with operation_aborted and must find both still there.
  if (!socket_) return;
  asio::error_code ignored;
  socket_->close(ignored);
}

void BrokerConnection::reset() {
  close();
  tls_.reset();  // before the socket it refers to
  tls_context_.reset();
  socket_.reset();
}

asio::awaitable<std::optional<ResponseBody>> BrokerConnection::exchange(std::vector<uint8_t>& request, size_t size_at,
                                                                        bool flexible,
                                                                        std::chrono::milliseconds timeout) {
  if (!socket_ || !socket_->is_open()) co_return std::nullopt;
  store_be32(request.data() + size_at, static_cast<uint32_t>(request.size() - size_at - 4));
  const int32_t expected = correlation_id_;
  asio::error_code ec;
  ResponseBody response;
  size_t size = 0;
  {
    Deadline deadline(io_, *socket_, timeout);
    // Over TLS through the stream, else on the socket itself.
    auto write = [&](asio::const_buffer b) {
      return tls_ ? asio::async_write(*tls_, b, asio::redirect_error(asio::use_awaitable, ec))
                  : asio::async_write(*socket_, b, asio::redirect_error(asio::use_awaitable, ec));
    };
    auto read = [&](asio::mutable_buffer b) {
      return tls_ ? asio::async_read(*tls_, b, asio::redirect_error(asio::use_awaitable, ec))
                  : asio::async_read(*socket_, b, asio::redirect_error(asio::use_awaitable, ec));
    };
    co_await write(asio::buffer(request));
    uint8_t size_bytes[4];
    if (!ec) co_await read(asio::buffer(size_bytes));
    if (!ec) {
      size = load_be32(size_bytes);
      if (size < 4 || size > (1u << 30)) {
        ec = asio::error::message_size;
      } else {
        response.storage.reset(new uint8_t[size]);  // uninitialised: the read fills it
        co_await read(asio::buffer(response.storage.get(), size));
      }
    }
  }
  if (ec || !socket_) {
    last_error_ = ec ? ec : std::make_error_code(std::errc::not_connected);
    close();
    co_return std::nullopt;
  }
  try {
    std::span<const uint8_t> whole(response.storage.get(), size);
    protocol::Reader reader(whole);
    if (reader.i32() != expected) {
      close();
      co_return std::nullopt;
    }
    if (flexible) reader.skip_tagged_fields();
    response.body = whole.subspan(size - reader.remaining());
  } catch (const std::exception&) {
    close();
    co_return std::nullopt;
  }
  co_return response;
}

}  // namespace runnel::cluster::replication
