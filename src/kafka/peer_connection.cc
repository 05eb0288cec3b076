#include "kafka/peer_connection.h"

#include <spdlog/spdlog.h>

namespace runnel {

using cluster::replication::BrokerConnection;

void PeerConnection::close() {
  if (connection_) connection_->close();
}

bool PeerConnection::kept(const std::string& host, int32_t port) {
  if (connection_ && (!connection_->connected() || connected_host_ != host || connected_port_ != port)) {
    connection_->close();
    connection_.reset();
  }
  return connection_ != nullptr;
}

asio::awaitable<ErrorCode> PeerConnection::connect(std::string host, int32_t port) {
  auto connection = std::make_unique<BrokerConnection>(io_, client_id_, sasl_, tls_);
  auto ec = co_await connection->connect(host, static_cast<uint16_t>(port), kConnectTimeout);
  if (ec == std::errc::permission_denied && connection->refused_at() == BrokerConnection::Stage::kTls) {
    spdlog::error("{}: TLS handshake failed with {}:{}: {}", purpose_, host, port, connection->auth_error());
    co_return ErrorCode::NETWORK_EXCEPTION;
  }
  if (ec == std::errc::permission_denied) {
    spdlog::error("{}: authentication failed to {}:{} as {} with SASL mechanism {}: {}", purpose_, host, port,
                  sasl_ ? sasl_->username : "", sasl_ ? sasl_->mechanism : "", connection->auth_error());
    co_return ErrorCode::SASL_AUTHENTICATION_FAILED;
  }
  if (ec) {
    spdlog::warn("{}: cannot reach {}:{}: {}", purpose_, host, port, ec.message());
    co_return ErrorCode::NETWORK_EXCEPTION;
  }
  connection_ = std::move(connection);
  if (connections_made_) connections_made_->fetch_add(1, std::memory_order_relaxed);
  connected_host_ = host;
  connected_port_ = port;
  co_return ErrorCode::NONE;
}

void PeerConnection::log_no_answer(const std::string& host, int32_t port) const {
  spdlog::warn("{}: no answer from {}:{}", purpose_, host, port);
}

}  // namespace runnel
