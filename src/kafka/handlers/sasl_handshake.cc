// SaslHandshake (key 17): the client names a SASL mechanism. On a SASL
// listener an enabled mechanism starts the exchange (v1: carried by
// SaslAuthenticate; v0: bare tokens follow, as kafka-python 2.0 sends them);
// on an authenticated connection it starts a re-authentication (KIP-368);
// any other mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled list, and the
// connection closes, as Kafka does. Elsewhere, or once authenticated:
// ILLEGAL_SASL_STATE.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"
#include "security/session.h"

namespace runnel {

asio::awaitable<protocol::SaslHandshakeResponse> handle_sasl_handshake(RequestContext& ctx,
                                                                       protocol::SaslHandshakeRequest& request) {
  protocol::SaslHandshakeResponse response;
  security::Session* session = ctx.session;
  const auto& enabled = ctx.broker.config().sasl_enabled_mechanisms;
  // Once authenticated, a new handshake starts a re-authentication (KIP-368,
  // v1 only), when sessions expire at all.
  bool reauthentication =
      session && session->authenticated && ctx.api_version >= 1 && ctx.broker.config().connections_max_reauth_ms > 0;
  if (!session || !uses_sasl(session->protocol) || (session->authenticated && !reauthentication) || session->sasl) {
    response.error_code = code(ErrorCode::ILLEGAL_SASL_STATE);
    co_return response;
  }
  response.mechanisms = enabled;
  bool allowed = std::find(enabled.begin(), enabled.end(), request.mechanism) != enabled.end() &&
                 security::is_known_mechanism(request.mechanism);
  if (!allowed) {
    spdlog::warn("{}: SASL mechanism '{}' is not enabled on listener {}", ctx.peer, request.mechanism,
                 session->listener);
    response.error_code = code(ErrorCode::UNSUPPORTED_SASL_MECHANISM);
    session->close_after_response = true;
    co_return response;
  }
  session->sasl = std::make_unique<security::SaslServer>(request.mechanism, ctx.broker.credentials());
  session->raw_tokens = ctx.api_version == 0;
  co_return response;
}

}  // namespace runnel
