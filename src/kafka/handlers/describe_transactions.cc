// ListTransactions (66) and DescribeTransactions (65), KIP-664: what the
// transaction coordinators of this broker hold (kafka-transactions.sh, and
// `runnel transactions`).
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::ListTransactionsResponse> handle_list_transactions(
    RequestContext& ctx, protocol::ListTransactionsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::ListTransactionsResponse response;
  std::set<txn::TxnState> states;
  for (const auto& name : request.state_filters) {
    if (auto s = txn::state_from_name(name))
      states.insert(*s);
    else
      response.unknown_state_filters.push_back(name);
  }
  // Kafka: a filter naming only unknown states matches nothing.
  if (!request.state_filters.empty() && states.empty()) co_return response;
  std::set<int64_t> producer_ids(request.producer_id_filters.begin(), request.producer_id_filters.end());
  for (int s = 0; s < broker.shards().size(); ++s) {
    auto list = [&broker]() { return broker.txn_coordinator().list(); };
    auto txns = co_await on_shard(broker.shards().at(s), list);
    for (const auto& md : txns) {
      // Kafka lists only the ids the principal may DESCRIBE.
      if (!authorized_txn(ctx, security::AclOperation::Describe, md.transactional_id)) continue;
      if (!states.empty() && !states.count(md.state)) continue;
      if (!producer_ids.empty() && !producer_ids.count(md.producer_id)) continue;
      auto& t = response.transaction_states.emplace_back();
      t.transactional_id = md.transactional_id;
      t.producer_id = md.producer_id;
      t.transaction_state = txn::state_name(md.state);
    }
  }
  co_return response;
}

asio::awaitable<protocol::DescribeTransactionsResponse> handle_describe_transactions(
    RequestContext& ctx, protocol::DescribeTransactionsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeTransactionsResponse response;
  bool have_topic = broker.topics().find(txn::kTransactionStateTopic).has_value();
  for (const auto& id : request.transactional_ids) {
    auto& t = response.transaction_states.emplace_back();
    t.transactional_id = id;
    if (!authorized_txn(ctx, security::AclOperation::Describe, id)) {
      t.error_code = code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      continue;
    }
    if (!have_topic) {
      t.error_code = code(ErrorCode::NOT_COORDINATOR);
      continue;
    }
    auto describe = [&broker, &id]() -> std::pair<ErrorCode, std::optional<txn::TxnMetadata>> {
      auto& coordinator = broker.txn_coordinator();
      if (auto error = coordinator.coordinator_error(id); error != ErrorCode::NONE) return {error, std::nullopt};
      const auto* md = coordinator.find(id);
      if (!md) return {ErrorCode::TRANSACTIONAL_ID_NOT_FOUND, std::nullopt};
      return {ErrorCode::NONE, *md};
    };
    auto [error, md] = co_await on_shard(broker.txn_coordinator_shard(id), describe);
    t.error_code = code(error);
    if (!md) continue;
    t.transaction_state = txn::state_name(md->state);
    t.transaction_timeout_ms = md->timeout_ms;
    t.transaction_start_time_ms = md->start_ms;
    t.producer_id = md->producer_id;
    t.producer_epoch = md->producer_epoch;
    for (const auto& [topic, ids] : md->partitions) {
      auto& td = t.topics.emplace_back();
      td.topic = topic;
      td.partitions.assign(ids.begin(), ids.end());
    }
  }
  co_return response;
}

}  // namespace runnel
