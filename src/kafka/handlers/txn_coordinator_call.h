#pragma once
// How the request handlers call the transaction coordinator
// (txn/coordinator.h): on the shard that coordinates the transactional id,
// and with its answer standing only if this broker coordinated the id both
// before and after the call. An answer from memory (a retried EndTxn's, an
// epoch check's, InitProducerId's) is only the coordinator's while this
// broker may still act as it; otherwise the client hears NOT_COORDINATOR (or
// the coordinator's other error) and looks the coordinator up again.
//
// Thread-safety: a coroutine of the calling connection; `op` runs on the
// coordinator's shard.
#include <string>

#include "kafka/broker.h"

namespace runnel {

// `op(coordinator)` returns an awaitable of the handler's result; `fail(error)`
// makes that result from an error instead.
template <class Op, class Fail>
asio::awaitable<std::invoke_result_t<Fail, ErrorCode>> call_txn_coordinator(Broker& broker,
                                                                            const std::string& transactional_id, Op& op,
                                                                            Fail fail) {
  using Result = std::invoke_result_t<Fail, ErrorCode>;
  auto run = [&broker, &transactional_id, &op, &fail]() -> asio::awaitable<Result> {
    if (auto error = broker.txn_coordinator_error(transactional_id); error != ErrorCode::NONE) co_return fail(error);
    Result result = co_await op(broker.txn_coordinator());
    if (auto error = broker.txn_coordinator_error(transactional_id); error != ErrorCode::NONE) co_return fail(error);
    co_return result;
  };
  co_return co_await on_shard(broker.txn_coordinator_shard(transactional_id), run);
}

}  // namespace runnel
