// InitProducerId (key 22): a producer id and epoch for an idempotent producer.
// As Kafka's TransactionCoordinator does for a null transactional id, every
// request gets a fresh producer id with epoch 0 (a KIP-360 request naming its
// current id and epoch, v3+, is answered the same way: a new id is as good as
// a bumped epoch for a producer outside a transaction). Transactions are not
// implemented: a transactional id gets COORDINATOR_NOT_AVAILABLE, as
// FindCoordinator with key type 1 does (Kafka's answer while no transaction
// coordinator is available), so transactional clients fail their
// initTransactions with a coordinator error and never write transactionally.
#include <spdlog/spdlog.h>

#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
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
  if (request.transactional_id) {
    response.error_code =
        code(request.transactional_id->empty() ? ErrorCode::INVALID_REQUEST : ErrorCode::COORDINATOR_NOT_AVAILABLE);
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
