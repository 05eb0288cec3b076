// FindCoordinator (key 10): every group's coordinator is this node. Creates
// __consumer_offsets on first use, as Kafka does. Transaction coordinators
// (key_type 1) are not available: transactions are not implemented.
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::FindCoordinatorResponse> handle_find_coordinator(
    RequestContext& ctx, protocol::FindCoordinatorRequest& request) {
  Broker& broker = ctx.broker;
  protocol::FindCoordinatorResponse response;
  bool ready = co_await broker.ensure_offsets_topic();
  auto answer = [&](int8_t key_type) -> std::pair<ErrorCode, std::string> {
    if (key_type != 0) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "Transactions are not supported"};
    if (!ready) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."};
    return {ErrorCode::NONE, ""};
  };
  if (ctx.api_version < 4) {
    auto [error, message] = answer(request.key_type);
    response.error_code = code(error);
    if (error != ErrorCode::NONE) {
      response.error_message = message;
      response.node_id = -1;
      response.port = -1;
    } else {
      response.node_id = broker.config().node_id;
      response.host = broker.advertised_host();
      response.port = broker.advertised_port();
    }
    co_return response;
  }
  for (const auto& key : request.coordinator_keys) {
    auto& c = response.coordinators.emplace_back();
    c.key = key;
    auto [error, message] = answer(request.key_type);
    c.error_code = code(error);
    if (error != ErrorCode::NONE) {
      c.error_message = message;
      c.node_id = -1;
      c.port = -1;
      continue;
    }
    c.node_id = broker.config().node_id;
    c.host = broker.advertised_host();
    c.port = broker.advertised_port();
  }
  co_return response;
}

}  // namespace runnel
