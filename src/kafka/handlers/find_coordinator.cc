// FindCoordinator (key 10): a group's coordinator (key_type 0) is the leader
// of its __consumer_offsets partition, a transactional id's (key_type 1) the
// leader of its __transaction_state partition (this node, on a single node).
// Creates the topic on first use, as Kafka does. ACLs as Kafka's: DESCRIBE on
// the group (else GROUP_AUTHORIZATION_FAILED) or on the transactional id
// (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), per key.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::FindCoordinatorResponse> handle_find_coordinator(RequestContext& ctx,
                                                                           protocol::FindCoordinatorRequest& request) {
  Broker& broker = ctx.broker;
  protocol::FindCoordinatorResponse response;
  int8_t key_type = ctx.api_version >= 1 ? request.key_type : 0;
  bool ready = false;
  if (key_type == 0) ready = co_await broker.ensure_offsets_topic();
  if (key_type == 1) ready = co_await broker.ensure_transaction_state_topic();
  // The coordinator of a group is the leader of its __consumer_offsets
  // partition: this node on a single node, wherever etcd says in a cluster
  // (this broker included while it is fenced: the client's requests then get
  // NOT_COORDINATOR until it serves again or etcd names another).
  std::optional<Broker::Endpoint> where;
  auto answer = [&](int8_t key_type, const std::string& key) -> std::pair<ErrorCode, std::string> {
    if (key_type != 0 && key_type != 1) return {ErrorCode::INVALID_REQUEST, "Unknown coordinator type."};
    if (key_type == 0 && !authorized_group(ctx, security::AclOperation::Describe, key))
      return {ErrorCode::GROUP_AUTHORIZATION_FAILED, "Not authorized to access group: " + key};
    if (key_type == 1 && !authorized_txn(ctx, security::AclOperation::Describe, key))
      return {ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "Transactional Id authorization failed."};
    if (!ready) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."};
    where = broker.endpoint(key_type == 0 ? broker.named_coordinator_node(key) : broker.named_txn_coordinator_node(key),
                            ctx.listener);
    if (!where) return {ErrorCode::COORDINATOR_NOT_AVAILABLE, "The coordinator is not available."};
    return {ErrorCode::NONE, ""};
  };
  if (ctx.api_version < 4) {
    auto [error, message] = answer(key_type, request.key);
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
    auto [error, message] = answer(key_type, key);
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
