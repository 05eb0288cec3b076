#include "kafka/sasl_exchange.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <chrono>

#include "kafka/broker.h"
#include "security/session.h"

namespace runnel {

asio::awaitable<SaslExchangeResult> sasl_exchange_step(RequestContext& ctx, std::span<const uint8_t> token) {
  security::Session& session = *ctx.session;
  SaslExchangeResult result;
  if (!session.sasl) {
    result.error = ErrorCode::ILLEGAL_SASL_STATE;
    result.message = "Unexpected SaslAuthenticate request: no SaslHandshake before it";
    session.close_after_response = true;
    co_return result;
  }
  auto step = session.sasl->step(token);
  std::string principal;
  if (step.outcome == security::SaslServer::Outcome::kDone) {
    principal = "User:" + session.sasl->username();
    if (session.authenticated && principal != session.principal) {
      step.outcome = security::SaslServer::Outcome::kFailed;
      step.reason = "re-authentication as another principal (was " + session.principal + ")";
      step.error_message =
          "Cannot change principals during re-authentication from " + session.principal + ": " + principal;
    }
  }
  if (step.outcome == security::SaslServer::Outcome::kFailed) {
    spdlog::warn("{}: failed authentication on listener {} with {} as user '{}': {}", ctx.peer, session.listener,
                 session.sasl->mechanism(), session.sasl->username(), step.reason);
    session.sasl.reset();
    session.raw_tokens = false;
    session.close_after_response = true;
    asio::steady_timer delay(ctx.shard.io());
    delay.expires_after(std::chrono::milliseconds(ctx.broker.config().failed_authentication_delay_ms));
    std::error_code ec;
    co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    result.error = ErrorCode::SASL_AUTHENTICATION_FAILED;
    result.message = std::move(step.error_message);
    co_return result;
  }
  result.bytes = std::move(step.response);
  if (step.outcome == security::SaslServer::Outcome::kDone) {
    session.principal = principal;
    session.authenticated = true;
    int64_t lifetime = ctx.broker.config().connections_max_reauth_ms;
    if (lifetime > 0) {
      session.expires_at_ms = now_ms() + lifetime;
      result.session_lifetime_ms = lifetime;
    }
    spdlog::debug("{}: authenticated as {} with {} on listener {}", ctx.peer, session.principal,
                  session.sasl->mechanism(), session.listener);
    session.sasl.reset();
    session.raw_tokens = false;
  }
  co_return result;
}

}  // namespace runnel
