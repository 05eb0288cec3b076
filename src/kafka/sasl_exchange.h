#pragma once
// One client token through a connection's SASL exchange, shared by
// SaslAuthenticate and the bare tokens that follow a SaslHandshake v0. On
// success the session is authenticated under "User:<name>"; on failure the
// attempt is logged with the peer's address, the answer is held back for
// connection.failed.authentication.delay.ms (slowing password guessing), and
// the connection closes once it is out. A re-authentication (KIP-368) must
// name the same principal.
#include <asio.hpp>
#include <span>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "kafka/request_context.h"

namespace runnel {

struct SaslExchangeResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;  // Kafka's, when error != NONE
  std::vector<uint8_t> bytes;
  int64_t session_lifetime_ms = 0;  // KIP-368, once authenticated
};

asio::awaitable<SaslExchangeResult> sasl_exchange_step(RequestContext& ctx, std::span<const uint8_t> token);

}  // namespace runnel
