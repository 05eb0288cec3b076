#pragma once
// A Kafka protocol client connection from this broker to another: one request
// at a time, each with a deadline. The follower's fetcher uses it to send
// Fetch to a partition's leader, the transaction coordinator WriteTxnMarkers.
// On a TLS inter-broker listener (SSL, SASL_SSL) connect() first makes the TLS
// handshake with the client context it is given (security/tls_context.h:
// the peer's chain checked against the truststore, its name per
// ssl.endpoint.identification.algorithm, this broker's keystore certificate
// presented for mutual TLS). With a SASL login (SASL_PLAINTEXT, SASL_SSL)
// connect() then authenticates before it returns (SaslHandshake v1,
// SaslAuthenticate), so that the peer sees this broker's principal rather
// than User:ANONYMOUS; a session the peer limits (connections.max.reauth.ms)
// counts as disconnected shortly before it ends, and the caller connects
// again. Requests use header v1 (v2 for flexible versions), responses are
// returned as their body bytes for the caller's generated message type to read.
//
// Thread-safety: none; lives on one shard and is used from coroutines on that
// shard's io_context only.
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "config/broker_config.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "security/tls_context.h"

namespace runnel::cluster::replication {

// A response's body: `body` views `storage`, past the response header. The
// storage is left uninitialised before the socket fills it, and the header is
// skipped by the view rather than by moving the bytes: a follower's fetch
// response is megabytes of records, and zero-filling and shifting it showed
// as 11% of a replicating broker's CPU.
struct ResponseBody {
  std::unique_ptr<uint8_t[]> storage;
  std::span<const uint8_t> body;
};

class BrokerConnection {
 public:
  // How long sent bytes may go unacknowledged by the peer's TCP before the
  // connection counts as broken (TCP_USER_TIMEOUT; see connect()).
  static constexpr std::chrono::milliseconds kUnackedDataTimeout{3000};
  // The most a TCP connect may take, whatever connect()'s timeout (which
  // still bounds the TLS handshake and the login): see connect().
  static constexpr std::chrono::milliseconds kSynTimeout{1000};
  // `tls`: the client context of a TLS inter-broker listener (null: plaintext).
  BrokerConnection(asio::io_context& io, std::string client_id, std::optional<InterBrokerSasl> sasl = std::nullopt,
                   std::shared_ptr<const security::TlsContextSource> tls = nullptr)
      : io_(io), client_id_(std::move(client_id)), sasl_(std::move(sasl)), tls_source_(std::move(tls)) {}
  BrokerConnection(const BrokerConnection&) = delete;
  BrokerConnection& operator=(const BrokerConnection&) = delete;
  ~BrokerConnection() { reset(); }

  bool connected() const;
  // Connects to host:port within `timeout` (at most kSynTimeout; makes the TLS handshake within
  // another, and authenticates within another); an error code on failure:
  // std::errc::permission_denied when the TLS handshake failed (the peer's
  // certificate is not trusted or does not name `host`, or the peer refused
  // ours) or the peer refused the login or could not prove it knows the
  // credential, with refused_at() saying which and auth_error() why.
  asio::awaitable<std::error_code> connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
  enum class Stage { kNone, kTls, kSasl };
  // Where the last connect() was refused (kNone: it was not).
  Stage refused_at() const { return refused_at_; }
  // Why the last connect() failed to authenticate (for the log).
  const std::string& auth_error() const { return auth_error_; }
  bool authenticates() const { return sasl_.has_value(); }
  bool uses_tls() const { return tls_source_ != nullptr; }
  // Why the last call() failed: a socket error, or a TLS one (for instance
  // the peer's alert when it refused this broker's certificate: TLS 1.3
  // reports that only after the client's side of the handshake is done).
  const std::error_code& last_error() const { return last_error_; }
  bool last_error_is_tls() const;
  // Sends `request` as API `api_key` version `version` and waits up to
  // `timeout` for its response, whose body (past the response header) is
  // returned. The connection is closed on any error, and on a timeout.
  template <class Request>
  asio::awaitable<std::optional<ResponseBody>> call(const Request& request, int16_t version,
                                                    std::chrono::milliseconds timeout) {
    protocol::Writer w;
    size_t size_at = w.reserve(4);
    w.i16(Request::kApiKey);
    w.i16(version);
    w.i32(++correlation_id_);
    w.nullable_string(client_id_);
    const bool flexible = version >= Request::kFlexibleFrom;
    if (flexible) w.empty_tagged_fields();
    request.write(w, version);
    auto frame = std::move(w).finish();
    co_return co_await exchange(frame.buffer, size_at, flexible, timeout);
  }
  // Closes the socket: any operation pending on it fails. The socket and
  // TLS objects live on until the next connect() or the destructor.
  void close();

 private:
  // `request` by reference, like every non-trivial argument of a coroutine
  // awaited in place: GCC 12 destroys such temporaries twice (PR 100611).
  asio::awaitable<std::optional<ResponseBody>> exchange(std::vector<uint8_t>& request, size_t size_at, bool flexible,
                                                        std::chrono::milliseconds timeout);

  // SaslHandshake and SaslAuthenticate on the fresh connection
  // (broker_connection_sasl.cc).
  asio::awaitable<std::error_code> authenticate(std::chrono::milliseconds timeout);

  // Closes, and drops the socket and TLS objects (no operation may be pending).
  void reset();
  // The TLS handshake on the fresh connection.
  asio::awaitable<std::error_code> handshake(const std::string& host, std::chrono::milliseconds timeout);

  asio::io_context& io_;
  std::string client_id_;
  std::optional<InterBrokerSasl> sasl_;
  std::shared_ptr<const security::TlsContextSource> tls_source_;
  std::optional<asio::ip::tcp::socket> socket_;
  // The context the current connection was made with (kept while it lives:
  // a reload may replace the source's), and the TLS stream over socket_.
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  int32_t correlation_id_ = 0;
  Stage refused_at_ = Stage::kNone;
  std::error_code last_error_;
  std::string auth_error_;
  // When the peer's session ends (SaslAuthenticate's session_lifetime_ms),
  // less a margin; nullopt: it does not.
  std::optional<std::chrono::steady_clock::time_point> session_ends_;
};

}  // namespace runnel::cluster::replication
