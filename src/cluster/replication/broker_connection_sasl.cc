// BrokerConnection's SASL login: SaslHandshake v1 names the mechanism, then
// SaslAuthenticate carries the tokens security::SaslClient computes, as a
// Kafka client does on a SASL_PLAINTEXT listener (and on SASL_SSL, inside TLS).
#include <spdlog/spdlog.h>

#include "cluster/replication/broker_connection.h"
#include "protocol/messages.h"
#include "security/sasl_client.h"

namespace runnel::cluster::replication {

namespace {

constexpr int16_t kSaslHandshakeVersion = 1;     // v1: the tokens follow in SaslAuthenticate
constexpr int16_t kSaslAuthenticateVersion = 1;  // v1: answers the session's lifetime (KIP-368)

std::error_code auth_refused() { return std::make_error_code(std::errc::permission_denied); }

}  // namespace

asio::awaitable<std::error_code> BrokerConnection::authenticate(std::chrono::milliseconds timeout) {
  auth_error_.clear();
  auto fail = [this](std::string why) {
    refused_at_ = Stage::kSasl;
    auth_error_ = std::move(why);
    close();
    return auth_refused();
  };
  protocol::SaslHandshakeRequest handshake;
  handshake.mechanism = sasl_->mechanism;
  auto body = co_await call(handshake, kSaslHandshakeVersion, timeout);
  if (!body) {
    close();
    co_return std::make_error_code(std::errc::connection_aborted);
  }
  protocol::SaslHandshakeResponse handshake_response;
  try {
    protocol::Reader reader(body->body);
    handshake_response.read(reader, kSaslHandshakeVersion);
  } catch (const std::exception&) {
    co_return fail("malformed SaslHandshake response");
  }
  if (handshake_response.error_code != 0) {
    std::string offered;
    for (const auto& m : handshake_response.mechanisms) offered += (offered.empty() ? "" : ",") + m;
    co_return fail("the peer does not offer SASL mechanism " + sasl_->mechanism + " (it offers " + offered +
                   "; error " + std::to_string(handshake_response.error_code) + ")");
  }
  security::SaslClient client(sasl_->mechanism, sasl_->username, sasl_->password);
  auto step = client.start();
  // PLAIN takes one round trip, SCRAM two; a peer that asks for more is broken.
  for (int round = 0; round < 4; ++round) {
    if (step.outcome == security::SaslClient::Outcome::kFailed) co_return fail(step.error);
    if (step.outcome == security::SaslClient::Outcome::kDone) break;
    protocol::SaslAuthenticateRequest request;
    request.auth_bytes = std::move(step.token);
    body = co_await call(request, kSaslAuthenticateVersion, timeout);
    if (!body) {
      close();
      co_return std::make_error_code(std::errc::connection_aborted);
    }
    protocol::SaslAuthenticateResponse response;
    try {
      protocol::Reader reader(body->body);
      response.read(reader, kSaslAuthenticateVersion);
    } catch (const std::exception&) {
      co_return fail("malformed SaslAuthenticate response");
    }
    if (response.error_code != 0)
      co_return fail(response.error_message.value_or("") + " (error " + std::to_string(response.error_code) + ")");
    step = client.step(response.auth_bytes);
    if (step.outcome == security::SaslClient::Outcome::kDone && response.session_lifetime_ms > 0) {
      // Reconnect (and log in again) before the peer ends the session: at
      // 85% of it, as Kafka's clients re-authenticate between 85 and 95%.
      session_ends_ =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(response.session_lifetime_ms * 85 / 100);
    }
  }
  if (step.outcome != security::SaslClient::Outcome::kDone)
    co_return fail(step.outcome == security::SaslClient::Outcome::kFailed ? step.error
                                                                          : "the peer did not end the exchange");
  co_return std::error_code{};
}

}  // namespace runnel::cluster::replication
