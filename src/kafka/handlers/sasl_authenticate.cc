// SaslAuthenticate (key 36): one round of the SASL exchange that SaslHandshake
// v1 started. A failure answers SASL_AUTHENTICATION_FAILED with Kafka's message
// and closes the connection (kafka/sasl_exchange.h). With
// connections.max.reauth.ms set, v1+ answers the session's lifetime
// (KIP-368); a client must re-authenticate within it (v0 clients cannot, and
// are disconnected when it ends).
#include "kafka/handlers/handlers.h"
#include "kafka/sasl_exchange.h"
#include "protocol/messages.h"
#include "security/session.h"

namespace runnel {

asio::awaitable<protocol::SaslAuthenticateResponse> handle_sasl_authenticate(
    RequestContext& ctx, protocol::SaslAuthenticateRequest& request) {
  protocol::SaslAuthenticateResponse response;
  security::Session* session = ctx.session;
  if (!session || !uses_sasl(session->protocol) || !session->sasl || session->raw_tokens) {
    response.error_code = code(ErrorCode::ILLEGAL_SASL_STATE);
    response.error_message = session && session->authenticated
                                 ? "SaslAuthenticate request received after successful authentication"
                                 : "Unexpected SaslAuthenticate request";
    co_return response;
  }
  std::span<const uint8_t> token(request.auth_bytes);
  auto result = co_await sasl_exchange_step(ctx, token);
  response.error_code = code(result.error);
  // null unless failed, as Kafka sends it
  response.error_message =
      result.error == ErrorCode::NONE ? std::nullopt : std::optional<std::string>(std::move(result.message));
  response.auth_bytes = std::move(result.bytes);
  response.session_lifetime_ms = result.session_lifetime_ms;
  co_return response;
}

}  // namespace runnel
