// FindCoordinator (key 10): a group's coordinator is the leader of its
// __consumer_offsets partition (this node, on a single node). Creates
// __consumer_offsets on first use, as Kafka does. Transaction coordinators
// (key_type 1) are not available: transactions are not implemented.
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::FindCoordinatorResponse> handle_find_coordinator(RequestContext& ctx,
                                                                           protocol::FindCoordinatorRequest& request) {
  Broker& broker = ctx.broker;
  protocol::FindCoordinatorResponse response;
  bool ready = co_await broker.ensure_offsets_topic();
  // The coordinator of a group is the leader of its __consumer_offsets
  // partition: this node on a single node, wherever etcd says in a cluster.
  std::optional<Broker::Endpoint> where;
  auto answer = [&](int8_t key_type, const std::string& key) -> std::pair<ErrorCode, std::string> {
    if (key_type != 0) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "Transactions are not supported"};
    if (!ready) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."};
    where = broker.endpoint(broker.coordinator_node(key));
    if (!where) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."};
    return {ErrorCode::NONE, ""};
  };
  if (ctx.api_version < 4) {
    auto [error, message] = answer(request.key_type, request.key);
    response.error_code = code(error);
    if (error != ErrorCode::NONE) {
      response.error_message = message;
      response.node_id = -1;
      response.port = -1;
    } else {
      response.node_id = where->node_id;
      response.host = where->host;
      response.port = where->port;
    }
    co_return response;
  }
  for (const auto& key : request.coordinator_keys) {
    auto& c = response.coordinators.emplace_back();
    c.key = key;
    auto [error, message] = answer(request.key_type, key);
    c.error_code = code(error);
    if (error != ErrorCode::NONE) {
      c.error_message = message;
      c.node_id = -1;
      c.port = -1;
      continue;
    }
    c.node_id = where->node_id;
    c.host = where->host;
    c.port = where->port;
  }
  co_return response;
}

}  // namespace runnel
