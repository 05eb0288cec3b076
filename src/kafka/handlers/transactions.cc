// A transactional producer's requests to its transaction coordinator:
// AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26). Each hops to
// the shard that coordinates the transactional id (txn/coordinator.h).
// PRODUCER_FENCED came with v2 of these APIs (KIP-588): older versions get
// INVALID_PRODUCER_EPOCH instead, as Kafka answers them.
// ACLs as Kafka's: each needs WRITE on the transactional id (else
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED); AddPartitionsToTxn WRITE on each
// topic (a refused one fails with TOPIC_AUTHORIZATION_FAILED, the rest with
// OPERATION_NOT_ATTEMPTED), AddOffsetsToTxn READ on the group.
//
// AddPartitionsToTxn v4+ (KIP-890) comes from brokers only: a batch of
// transactions, each added as v0-3 add one, or with verify_only checked
// (Coordinator::verify_partitions) for a partition leader about to append a
// transaction's first batch. Its sender needs CLUSTER_ACTION on the cluster
// (else the whole request is answered CLUSTER_AUTHORIZATION_FAILED in the
// top-level error code, no transaction looked at); no transactional id or
// topic ACL is checked. Unknown partitions fail their transaction as in v0-3
// (UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED).
#include <algorithm>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "kafka/handlers/txn_coordinator_call.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

ErrorCode for_version(ErrorCode error, int16_t version, int16_t fenced_from) {
  if (error == ErrorCode::PRODUCER_FENCED && version < fenced_from) return ErrorCode::INVALID_PRODUCER_EPOCH;
  return error;
}

// Runs op(coordinator) as call_txn_coordinator does, for the APIs whose
// answer is one error code.
template <class Op>
asio::awaitable<ErrorCode> on_txn_coordinator(Broker& broker, const std::string& transactional_id, Op& op) {
  if (transactional_id.empty()) co_return ErrorCode::INVALID_REQUEST;
  if (!broker.topics().find(txn::kTransactionStateTopic)) co_return ErrorCode::NOT_COORDINATOR;
  co_return co_await call_txn_coordinator(broker, transactional_id, op, [](ErrorCode error) { return error; });
}

}  // namespace

namespace {

// One transaction of an AddPartitionsToTxn v4+ request.
asio::awaitable<protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnResult> add_or_verify(
    Broker& broker, const protocol::AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction& t) {
  protocol::AddPartitionsToTxnResponse::AddPartitionsToTxnResult result;
  result.transactional_id = t.transactional_id;
  std::vector<txn::TopicPartition> partitions;
  bool unknown = false;
  for (const auto& topic : t.topics) {
    auto info = broker.topics().find(topic.name);
    for (int32_t p : topic.partitions) {
      if (!info || p < 0 || p >= info->partitions) unknown = true;
      partitions.push_back({topic.name, p});
    }
  }
  std::vector<ErrorCode> errors(partitions.size(), ErrorCode::NONE);
  if (unknown) {
    for (size_t i = 0; i < partitions.size(); ++i) {
      auto info = broker.topics().find(partitions[i].topic);
      const bool known = info && partitions[i].partition >= 0 && partitions[i].partition < info->partitions;
      errors[i] = known ? ErrorCode::OPERATION_NOT_ATTEMPTED : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    }
  } else if (t.verify_only) {
    if (t.transactional_id.empty()) {
      std::fill(errors.begin(), errors.end(), ErrorCode::INVALID_REQUEST);
    } else if (!broker.topics().find(txn::kTransactionStateTopic)) {
      std::fill(errors.begin(), errors.end(), ErrorCode::NOT_COORDINATOR);
    } else {
      auto verify = [&broker, &t, &partitions]() {
        if (auto error = broker.txn_coordinator_error(t.transactional_id); error != ErrorCode::NONE)
          return std::vector<ErrorCode>(partitions.size(), error);
        return broker.txn_coordinator().verify_partitions(t.transactional_id, t.producer_id, t.producer_epoch,
                                                          partitions);
      };
      errors = co_await on_shard(broker.txn_coordinator_shard(t.transactional_id), verify);
    }
  } else {
    auto add = [&t, &partitions](txn::Coordinator& c) {
      return c.add_partitions(t.transactional_id, t.producer_id, t.producer_epoch, partitions);
    };
    std::fill(errors.begin(), errors.end(), co_await on_txn_coordinator(broker, t.transactional_id, add));
  }
  size_t i = 0;
  for (const auto& topic : t.topics) {
    auto& tr = result.topic_results.emplace_back();
    tr.name = topic.name;
    for (int32_t p : topic.partitions) {
      auto& pr = tr.results_by_partition.emplace_back();
      pr.partition_index = p;
      pr.partition_error_code = code(errors[i++]);
    }
  }
  co_return result;
}

}  // namespace

asio::awaitable<protocol::AddPartitionsToTxnResponse> handle_add_partitions_to_txn(
    RequestContext& ctx, protocol::AddPartitionsToTxnRequest& request) {
  Broker& broker = ctx.broker;
  protocol::AddPartitionsToTxnResponse response;
  if (ctx.api_version >= 4) {
    if (!authorized_cluster(ctx, security::AclOperation::ClusterAction)) {
      response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
      co_return response;
    }
    for (const auto& t : request.transactions)
      response.results_by_transaction.push_back(co_await add_or_verify(broker, t));
    co_return response;
  }
  std::vector<txn::TopicPartition> partitions;
  bool unknown = false, denied = false;
  std::set<std::string> denied_topics;
  const bool txn_denied = !authorized_txn(ctx, security::AclOperation::Write, request.v3_and_below_transactional_id);
  for (const auto& topic : request.v3_and_below_topics) {
    auto info = broker.topics().find(topic.name);
    if (!authorized_topic(ctx, security::AclOperation::Write, topic.name)) {
      denied = true;
      denied_topics.insert(topic.name);
    }
    for (int32_t p : topic.partitions) {
      if (!info || p < 0 || p >= info->partitions) unknown = true;
      partitions.push_back({topic.name, p});
    }
  }
  ErrorCode error = ErrorCode::NONE;
  if (txn_denied) {
    error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  } else if (denied) {
    unknown = true;  // answered per partition below
  } else if (!unknown) {
    auto add = [&request, &partitions](txn::Coordinator& c) {
      return c.add_partitions(request.v3_and_below_transactional_id, request.v3_and_below_producer_id,
                              request.v3_and_below_producer_epoch, partitions);
    };
    error = for_version(co_await on_txn_coordinator(broker, request.v3_and_below_transactional_id, add),
                        ctx.api_version, 2);
  }
  for (const auto& topic : request.v3_and_below_topics) {
    auto& tr = response.results_by_topic_v3_and_below.emplace_back();
    tr.name = topic.name;
    auto info = broker.topics().find(topic.name);
    for (int32_t p : topic.partitions) {
      auto& pr = tr.results_by_partition.emplace_back();
      pr.partition_index = p;
      if (!unknown)
        pr.partition_error_code = code(error);
      else if (denied_topics.count(topic.name))
        pr.partition_error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      else if (!info || p < 0 || p >= info->partitions)
        pr.partition_error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      else
        pr.partition_error_code = code(ErrorCode::OPERATION_NOT_ATTEMPTED);
    }
  }
  co_return response;
}

asio::awaitable<protocol::AddOffsetsToTxnResponse> handle_add_offsets_to_txn(
    RequestContext& ctx, protocol::AddOffsetsToTxnRequest& request) {
  Broker& broker = ctx.broker;
  protocol::AddOffsetsToTxnResponse response;
  if (!authorized_txn(ctx, security::AclOperation::Write, request.transactional_id)) {
    response.error_code = code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (!co_await broker.ensure_offsets_topic()) {
    response.error_code = code(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    co_return response;
  }
  // The transaction gets the group's __consumer_offsets partition: its
  // markers there commit or drop the offsets TxnOffsetCommit leaves pending.
  std::vector<txn::TopicPartition> partitions = {
      {group::kOffsetsTopic, group::offsets_partition_for(request.group_id, broker.offsets_partitions())}};
  auto add = [&request, &partitions](txn::Coordinator& c) {
    return c.add_partitions(request.transactional_id, request.producer_id, request.producer_epoch, partitions);
  };
  response.error_code =
      code(for_version(co_await on_txn_coordinator(broker, request.transactional_id, add), ctx.api_version, 2));
  co_return response;
}

asio::awaitable<protocol::EndTxnResponse> handle_end_txn(RequestContext& ctx, protocol::EndTxnRequest& request) {
  protocol::EndTxnResponse response;
  if (!authorized_txn(ctx, security::AclOperation::Write, request.transactional_id)) {
    response.error_code = code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    co_return response;
  }
  auto end = [&request](txn::Coordinator& c) {
    return c.end_txn(request.transactional_id, request.producer_id, request.producer_epoch, request.committed);
  };
  response.error_code =
      code(for_version(co_await on_txn_coordinator(ctx.broker, request.transactional_id, end), ctx.api_version, 2));
  co_return response;
}

}  // namespace runnel
