#pragma once
// A connection from this broker to one other broker, kept open between
// requests, for the senders that talk to a peer now and then rather than
// stream to it (the transaction verifier, the transaction marker sender).
// Connecting costs a TCP handshake and, on a secured inter-broker listener, a
// TLS handshake and a SASL exchange: paid once, not per request.
//
// A connection kept from an earlier request may have been closed by the peer
// meanwhile (connections.max.idle.ms, a restart): a request that fails at
// once on it is sent once more on a new one. A timeout is not retried.
//
// Thread-safety: none; lives on one shard and is used from coroutines on that
// shard's io_context only, one request at a time (the callers queue and batch
// while one is in flight).
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/error_code.h"
#include "cluster/replication/broker_connection.h"
#include "config/broker_config.h"

namespace runnel {

class PeerConnection {
 public:
  static constexpr auto kConnectTimeout = std::chrono::seconds(5);

  // `purpose` names the sender in log lines ("transaction markers");
  // `client_id` is sent in the requests' headers. `sasl` and `tls`: how the
  // inter-broker listener is reached. `connections_made`, when given, counts
  // each connection made (for /metrics; it must outlive this).
  PeerConnection(asio::io_context& io, std::string purpose, std::string client_id, std::optional<InterBrokerSasl> sasl,
                 std::shared_ptr<const security::TlsContextSource> tls,
                 std::atomic<uint64_t>* connections_made = nullptr)
      : io_(io),
        purpose_(std::move(purpose)),
        client_id_(std::move(client_id)),
        sasl_(std::move(sasl)),
        tls_(std::move(tls)),
        connections_made_(connections_made) {}

  struct Reply {
    // The response's body; empty when there is none, with `error` saying why:
    // SASL_AUTHENTICATION_FAILED when the peer refused this broker's login,
    // NETWORK_EXCEPTION otherwise (unreachable, TLS handshake failed, no
    // usable answer in time).
    std::optional<cluster::replication::ResponseBody> body;
    ErrorCode error = ErrorCode::NONE;
  };

  // Sends `request` (API version `version`) to the broker at host:port and
  // waits up to `timeout` for its response. A new address closes the kept
  // connection first. (`host` by value: the caller's may change meanwhile.)
  template <class Request>
  asio::awaitable<Reply> call(std::string host, int32_t port, const Request& request, int16_t version,
                              std::chrono::milliseconds timeout) {
    Reply reply;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = kept(host, port);
      if (!reused) {
        reply.error = co_await connect(host, port);
        if (reply.error != ErrorCode::NONE) co_return reply;
      }
      ++requests_sent_;
      const auto sent = std::chrono::steady_clock::now();
      reply.body = co_await connection_->call(request, version, timeout);
      if (reply.body) co_return reply;
      connection_.reset();  // call() closed it
      // Only a quick failure is a stale connection.
      if (!reused || std::chrono::steady_clock::now() - sent >= std::chrono::seconds(1)) break;
    }
    log_no_answer(host, port);
    reply.error = ErrorCode::NETWORK_EXCEPTION;
    co_return reply;
  }

  // Closes the kept connection (a request in flight fails).
  void close();

  // Requests sent so far, retries included (tests and metrics).
  uint64_t requests_sent() const { return requests_sent_; }

 private:
  // Whether a connection to host:port is kept (one to another address, or a
  // closed one, is dropped).
  bool kept(const std::string& host, int32_t port);
  asio::awaitable<ErrorCode> connect(std::string host, int32_t port);
  void log_no_answer(const std::string& host, int32_t port) const;

  asio::io_context& io_;
  std::string purpose_;
  std::string client_id_;
  std::optional<InterBrokerSasl> sasl_;
  std::shared_ptr<const security::TlsContextSource> tls_;
  std::unique_ptr<cluster::replication::BrokerConnection> connection_;
  std::string connected_host_;
  int32_t connected_port_ = 0;
  uint64_t requests_sent_ = 0;
  std::atomic<uint64_t>* connections_made_;
};

}  // namespace runnel
