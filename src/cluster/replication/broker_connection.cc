#include "cluster/replication/broker_connection.h"

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
  close();
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  const std::string service = std::to_string(port);
  auto endpoints = co_await resolver.async_resolve(host, service, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  socket_.emplace(io_);
  {
    Deadline deadline(io_, *socket_, timeout);
    co_await asio::async_connect(*socket_, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.fired()) ec = asio::error::timed_out;
  }
  if (ec) {
    close();
    co_return ec;
  }
  socket_->set_option(asio::ip::tcp::no_delay(true), ec);
  if (sasl_) co_return co_await authenticate(timeout);
  co_return std::error_code{};
}

bool BrokerConnection::connected() const {
  if (!socket_.has_value() || !socket_->is_open()) return false;
  return !session_ends_ || std::chrono::steady_clock::now() < *session_ends_;
}

void BrokerConnection::close() {
  session_ends_.reset();
  if (!socket_) return;
  asio::error_code ignored;
  socket_->close(ignored);
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
    co_await asio::async_write(*socket_, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
    uint8_t size_bytes[4];
    if (!ec)
      co_await asio::async_read(*socket_, asio::buffer(size_bytes), asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      size = load_be32(size_bytes);
      if (size < 4 || size > (1u << 30)) {
        ec = asio::error::message_size;
      } else {
        response.storage.reset(new uint8_t[size]);  // uninitialised: the read fills it
        co_await asio::async_read(*socket_, asio::buffer(response.storage.get(), size),
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
    }
  }
  if (ec || !socket_) {
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
