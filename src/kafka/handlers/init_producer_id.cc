// InitProducerId (key 22): a producer id and epoch for an idempotent producer.
// As Kafka's TransactionCoordinator does for a null transactional id, every
// request gets a fresh producer id with epoch 0 (a KIP-360 request naming its
// current id and epoch, v3+, is answered the same way: a new id is as good as
// a bumped epoch for a producer outside a transaction). A transactional id
// goes to its transaction coordinator (txn/coordinator.h), which bumps the
// epoch, fences the previous instance and aborts its open transaction.
// ACLs as Kafka's: a transactional id needs WRITE on it (else
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer
// IDEMPOTENT_WRITE on the cluster or WRITE on some topic (else
// CLUSTER_AUTHORIZATION_FAILED).
#include <spdlog/spdlog.h>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "kafka/handlers/txn_coordinator_call.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::InitProducerIdResponse> handle_init_producer_id(RequestContext& ctx,
                                                                          protocol::InitProducerIdRequest& request) {
  protocol::InitProducerIdResponse response;
  response.producer_id = -1;
  response.producer_epoch = -1;
  // KafkaApis: the producer id and epoch come both or not at all.
  if ((request.producer_id == -1) != (request.producer_epoch == -1)) {
    response.error_code = code(ErrorCode::INVALID_REQUEST);
    co_return response;
  }
  if (request.transactional_id && !authorized_txn(ctx, security::AclOperation::Write, *request.transactional_id)) {
    response.error_code = code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (!request.transactional_id && !authorized_cluster(ctx, security::AclOperation::IdempotentWrite) &&
      !authorized_any(ctx, security::AclOperation::Write, security::ResourceType::Topic)) {
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (request.transactional_id) {
    Broker& broker = ctx.broker;
    const std::string& id = *request.transactional_id;
    if (id.empty()) {
      response.error_code = code(ErrorCode::INVALID_REQUEST);
      co_return response;
    }
    if (!co_await broker.ensure_transaction_state_topic()) {
      response.error_code = code(ErrorCode::COORDINATOR_NOT_AVAILABLE);
      co_return response;
    }
    auto init = [&id, &request](txn::Coordinator& coordinator) {
      return coordinator.init_producer_id(id, request.transaction_timeout_ms, request.producer_id,
                                          request.producer_epoch);
    };
    auto result = co_await call_txn_coordinator(broker, id, init, [](ErrorCode error) {
      return txn::InitProducerIdResult{error, -1, -1};
    });
    // PRODUCER_FENCED came with v4 (KIP-588); older clients know it as INVALID_PRODUCER_EPOCH.
    if (result.error == ErrorCode::PRODUCER_FENCED && ctx.api_version < 4)
      result.error = ErrorCode::INVALID_PRODUCER_EPOCH;
    response.error_code = code(result.error);
    response.producer_id = result.producer_id;
    response.producer_epoch = result.producer_epoch;
    co_return response;
  }
  auto id = co_await ctx.broker.next_producer_id();
  if (!id) {
    // Kafka's ProducerIdManager without a block: retriable.
    response.error_code = code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    co_return response;
  }
  response.producer_id = *id;
  response.producer_epoch = 0;
  co_return response;
}

}  // namespace runnel
