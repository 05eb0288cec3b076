// Committed offsets: OffsetCommit (8), OffsetFetch (9), OffsetDelete (47),
// and a transaction's offsets, TxnOffsetCommit (28).
// ACLs as Kafka's: committing needs READ on the group (else every partition
// fails with GROUP_AUTHORIZATION_FAILED) and READ on each topic (else
// TOPIC_AUTHORIZATION_FAILED for its partitions), a transactional commit
// WRITE on the transactional id first; fetching needs DESCRIBE on the group,
// and the topics the principal may not DESCRIBE are left out of a listing
// (TOPIC_AUTHORIZATION_FAILED when named); deleting needs DELETE on the group
// and READ on each topic.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

using TopicPartitions = std::vector<std::pair<std::string, int32_t>>;

bool partition_exists(Broker& broker, const std::string& topic, int32_t partition) {
  auto info = broker.topics().find(topic);
  return info && partition >= 0 && partition < info->partitions;
}

// The committed offsets of one group, for the partitions asked (all when null).
// With `require_stable` (KIP-447, v7+), a partition for which a transaction
// holds offsets not yet committed is answered UNSTABLE_OFFSET_COMMIT, so the
// consumer waits for the transaction rather than start from an older offset.
asio::awaitable<std::vector<group::CommittedOffset>> fetch_offsets(Broker& broker, const std::string& group_id,
                                                                   const std::optional<TopicPartitions>& only,
                                                                   bool require_stable = false) {
  co_return co_await on_shard(broker.coordinator_shard(group_id), [&broker, &group_id, &only, require_stable]() {
    auto& coordinator = broker.coordinator();
    auto offsets = coordinator.fetch(group_id, only);
    if (require_stable)
      for (auto& o : offsets)
        if (coordinator.has_pending_txn_offset(group_id, o.topic, o.partition)) {
          o.offset = -1;
          o.error = ErrorCode::UNSTABLE_OFFSET_COMMIT;
        }
    return offsets;
  });
}

// The entries of a commit (OffsetCommit, TxnOffsetCommit) for partitions that
// exist, and where each is answered in `response`; the others are answered
// UNKNOWN_TOPIC_OR_PARTITION there.
template <class Request, class Response>
std::vector<group::CommitEntry> commit_entries(RequestContext& ctx, const Request& request, Response& response,
                                               std::vector<std::pair<size_t, size_t>>& where) {
  Broker& broker = ctx.broker;
  std::vector<group::CommitEntry> entries;
  for (const auto& topic : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.name = topic.name;
    const bool denied = !authorized_topic(ctx, security::AclOperation::Read, topic.name);
    for (const auto& p : topic.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      if (denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (!partition_exists(broker, topic.name, p.partition_index)) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      entries.push_back(
          {topic.name, p.partition_index, p.committed_offset, p.committed_leader_epoch, p.committed_metadata});
      where.push_back({response.topics.size() - 1, tr.partitions.size() - 1});
    }
  }
  return entries;
}

// GroupMetadataManager.maybeConvertOffsetCommitError: a transactional
// commit's verification or append error as a TxnOffsetCommit answers it
// (retriable ones as errors clients retry without a coordinator lookup).
ErrorCode offset_commit_error(ErrorCode error) {
  switch (error) {
    case ErrorCode::NETWORK_EXCEPTION:
      return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::KAFKA_STORAGE_ERROR:
      return ErrorCode::NOT_COORDINATOR;
    case ErrorCode::MESSAGE_TOO_LARGE:
    case ErrorCode::RECORD_LIST_TOO_LARGE:
    case ErrorCode::INVALID_FETCH_SIZE:
      return ErrorCode::INVALID_COMMIT_OFFSET_SIZE;
    default:
      return error;
  }
}

// A whole-request error: every partition of the response gets it.
template <class Response>
void fail_every_partition(Response& response, ErrorCode error) {
  for (auto& t : response.topics)
    for (auto& p : t.partitions) p.error_code = code(error);
}

// Whether the principal may see a topic's committed offsets.
bool may_describe_topic(const RequestContext& ctx, const std::string& topic) {
  return authorized_topic(ctx, security::AclOperation::Describe, topic);
}

}  // namespace

asio::awaitable<protocol::OffsetCommitResponse> handle_offset_commit(RequestContext& ctx,
                                                                     protocol::OffsetCommitRequest& request) {
  Broker& broker = ctx.broker;
  protocol::OffsetCommitResponse response;
  std::vector<std::pair<size_t, size_t>> where;  // (topic, partition) index in the response
  auto entries = commit_entries(ctx, request, response, where);
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    fail_every_partition(response, ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (request.group_id.empty()) {
    for (auto [t, p] : where) response.topics[t].partitions[p].error_code = code(ErrorCode::INVALID_GROUP_ID);
    co_return response;
  }
  if (entries.empty()) co_return response;
  if (!co_await broker.ensure_offsets_topic()) {
    for (auto [t, p] : where) response.topics[t].partitions[p].error_code = code(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    for (auto [t, p] : where) response.topics[t].partitions[p].error_code = code(error);
    co_return response;
  }
  int32_t generation = ctx.api_version >= 1 ? request.generation_id_or_member_epoch : -1;
  // v9+ (KIP-848; for classic groups the same as v8 otherwise): a generation
  // for a group that does not exist is GROUP_ID_NOT_FOUND, not ILLEGAL_GENERATION.
  const bool unknown_group_not_found = ctx.api_version >= 9 && generation >= 0;
  const int16_t version = ctx.api_version;
  auto errors = co_await on_shard(broker.coordinator_shard(request.group_id),
                                  [&broker, &request, generation, &entries, unknown_group_not_found,
                                   version]() -> asio::awaitable<std::vector<ErrorCode>> {
                                    if (unknown_group_not_found && !broker.coordinator().has_group(request.group_id))
                                      co_return std::vector<ErrorCode>(entries.size(), ErrorCode::GROUP_ID_NOT_FOUND);
                                    co_return co_await broker.coordinator().commit(request.group_id, request.member_id,
                                                                                   request.group_instance_id,
                                                                                   generation, entries, version);
                                  });
  for (size_t i = 0; i < where.size(); ++i)
    response.topics[where[i].first].partitions[where[i].second].error_code = code(errors[i]);
  co_return response;
}

asio::awaitable<protocol::TxnOffsetCommitResponse> handle_txn_offset_commit(RequestContext& ctx,
                                                                            protocol::TxnOffsetCommitRequest& request) {
  Broker& broker = ctx.broker;
  protocol::TxnOffsetCommitResponse response;
  std::vector<std::pair<size_t, size_t>> where;
  auto entries = commit_entries(ctx, request, response, where);
  if (!authorized_txn(ctx, security::AclOperation::Write, request.transactional_id)) {
    fail_every_partition(response, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    co_return response;
  }
  if (!authorized_group(ctx, security::AclOperation::Read, request.group_id)) {
    fail_every_partition(response, ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  auto fail_all = [&](ErrorCode error) {
    for (auto [t, p] : where) response.topics[t].partitions[p].error_code = code(error);
  };
  if (request.group_id.empty()) {
    fail_all(ErrorCode::INVALID_GROUP_ID);
    co_return response;
  }
  if (entries.empty()) co_return response;
  if (!co_await broker.ensure_offsets_topic()) {
    fail_all(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    co_return response;
  }
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    fail_all(error);
    co_return response;
  }
  // KIP-890 (Kafka's GroupCoordinator.handleTxnCommitOffsets): the offsets
  // batch opens the producer's transaction in the group's __consumer_offsets
  // partition only once the transaction coordinator confirmed that partition
  // is in the transaction (AddOffsetsToTxn added it).
  storage::TxnVerification verification{broker.txn_verification_enabled(), storage::TxnVerification::kNoGuard,
                                        /*coordinator=*/true};
  if (verification.required) {
    const int32_t p = group::offsets_partition_for(request.group_id, broker.offsets_partitions());
    uint64_t guard = storage::TxnVerification::kNoGuard;
    auto start = [&broker, &request, p, &guard]() {
      auto* partition = broker.partition(group::kOffsetsTopic, p);
      if (!partition) return ErrorCode::NOT_COORDINATOR;
      return partition->start_txn_verification(request.producer_id, /*NO_SEQUENCE*/ -1, request.producer_epoch,
                                               now_ms(), guard);
    };
    auto error = co_await on_shard(broker.coordinator_shard(request.group_id), start);
    if (error == ErrorCode::NONE && guard != storage::TxnVerification::kNoGuard) {
      const std::vector<txn::TopicPartition> partitions = {{group::kOffsetsTopic, p}};
      auto verified = co_await broker.verify_txn_partitions(request.transactional_id, request.producer_id,
                                                            request.producer_epoch, partitions);
      error = verified.empty() ? ErrorCode::UNKNOWN_SERVER_ERROR : verified[0];
      // AddPartitionsToTxnManager's answers for TxnOffsetCommit v0-3, which
      // know no TRANSACTION_ABORTABLE; PRODUCER_FENCED as producers expect it.
      if (error == ErrorCode::TRANSACTION_ABORTABLE) error = ErrorCode::INVALID_TXN_STATE;
      if (error == ErrorCode::PRODUCER_FENCED) error = ErrorCode::INVALID_PRODUCER_EPOCH;
    }
    if (error != ErrorCode::NONE) {
      fail_all(offset_commit_error(error));
      co_return response;
    }
    verification.guard = guard;
  }
  auto commit = [&broker, &request, &entries, &verification]() -> asio::awaitable<std::vector<ErrorCode>> {
    co_return co_await broker.coordinator().txn_commit(request.group_id, request.producer_id, request.producer_epoch,
                                                       request.member_id, request.group_instance_id,
                                                       request.generation_id, entries, verification);
  };
  auto errors = co_await on_shard(broker.coordinator_shard(request.group_id), commit);
  for (size_t i = 0; i < where.size(); ++i) {
    auto error = errors[i];
    // PRODUCER_FENCED came with v3 (KIP-588).
    if (error == ErrorCode::PRODUCER_FENCED && ctx.api_version < 3) error = ErrorCode::INVALID_PRODUCER_EPOCH;
    response.topics[where[i].first].partitions[where[i].second].error_code = code(error);
  }
  co_return response;
}

asio::awaitable<protocol::OffsetFetchResponse> handle_offset_fetch(RequestContext& ctx,
                                                                   protocol::OffsetFetchRequest& request) {
  Broker& broker = ctx.broker;
  protocol::OffsetFetchResponse response;
  if (ctx.api_version < 8) {
    ErrorCode group_error = ErrorCode::NONE;
    if (!authorized_group(ctx, security::AclOperation::Describe, request.group_id))
      group_error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
    else
      group_error = broker.coordinator_error(request.group_id);
    if (group_error != ErrorCode::NONE) {
      response.error_code = code(group_error);
      // v0-1 have no top-level error: Kafka (OffsetFetchRequest.getErrorResponse)
      // gives it to every partition asked for, with no offset.
      if (ctx.api_version < 2 && request.topics) {
        for (auto& t : *request.topics) {
          auto& tr = response.topics.emplace_back();
          tr.name = t.name;
          for (int32_t p : t.partition_indexes) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = p;
            pr.committed_offset = -1;
            pr.error_code = code(group_error);
          }
        }
      }
      co_return response;
    }
    std::optional<TopicPartitions> only;
    if (request.topics) {
      only.emplace();
      for (auto& t : *request.topics)
        for (int32_t p : t.partition_indexes) only->push_back({t.name, p});
    }
    auto offsets =
        co_await fetch_offsets(broker, request.group_id, only, ctx.api_version >= 7 && request.require_stable);
    for (auto& o : offsets) {
      if (!may_describe_topic(ctx, o.topic)) {
        if (!only) continue;
        o.offset = -1;
        o.leader_epoch = -1;
        o.metadata = "";
        o.error = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
      }
      if (response.topics.empty() || response.topics.back().name != o.topic)
        response.topics.emplace_back().name = o.topic;
      auto& pr = response.topics.back().partitions.emplace_back();
      pr.partition_index = o.partition;
      pr.error_code = code(o.error);
      pr.committed_offset = o.offset;
      pr.committed_leader_epoch = o.leader_epoch;
      pr.metadata = o.metadata;
    }
    co_return response;
  }
  for (auto& g : request.groups) {
    auto& gr = response.groups.emplace_back();
    gr.group_id = g.group_id;
    if (!authorized_group(ctx, security::AclOperation::Describe, g.group_id)) {
      gr.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
      continue;
    }
    if (auto error = broker.coordinator_error(g.group_id); error != ErrorCode::NONE) {
      gr.error_code = code(error);
      continue;
    }
    // v9 (KIP-848): a consumer group member names itself and its epoch.
    const std::optional<std::string> member_id = g.member_id;
    const int32_t member_epoch = g.member_epoch;
    auto member_error =
        co_await on_shard(broker.coordinator_shard(g.group_id), [&broker, &g, &member_id, member_epoch]() {
          return broker.coordinator().validate_offset_fetch(g.group_id, member_id, member_epoch);
        });
    if (member_error != ErrorCode::NONE) {
      gr.error_code = code(member_error);
      continue;
    }
    std::optional<TopicPartitions> only;
    if (g.topics) {
      only.emplace();
      for (auto& t : *g.topics)
        for (int32_t p : t.partition_indexes) only->push_back({t.name, p});
    }
    auto offsets = co_await fetch_offsets(broker, g.group_id, only, request.require_stable);
    for (auto& o : offsets) {
      if (!may_describe_topic(ctx, o.topic)) {
        if (!only) continue;
        o.offset = -1;
        o.leader_epoch = -1;
        o.metadata = "";
        o.error = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
      }
      if (gr.topics.empty() || gr.topics.back().name != o.topic) gr.topics.emplace_back().name = o.topic;
      auto& pr = gr.topics.back().partitions.emplace_back();
      pr.partition_index = o.partition;
      pr.error_code = code(o.error);
      pr.committed_offset = o.offset;
      pr.committed_leader_epoch = o.leader_epoch;
      pr.metadata = o.metadata;
    }
  }
  co_return response;
}

asio::awaitable<protocol::OffsetDeleteResponse> handle_offset_delete(RequestContext& ctx,
                                                                     protocol::OffsetDeleteRequest& request) {
  Broker& broker = ctx.broker;
  protocol::OffsetDeleteResponse response;
  if (!authorized_group(ctx, security::AclOperation::Delete, request.group_id)) {
    response.error_code = code(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    co_return response;
  }
  TopicPartitions partitions;
  for (auto& t : request.topics)
    if (authorized_topic(ctx, security::AclOperation::Read, t.name))
      for (auto& p : t.partitions) partitions.push_back({t.name, p.partition_index});
  if (auto error = broker.coordinator_error(request.group_id); error != ErrorCode::NONE) {
    response.error_code = code(error);
    co_return response;
  }
  auto [group_error, errors] = co_await on_shard(
      broker.coordinator_shard(request.group_id),
      [&broker, &request, &partitions]() -> asio::awaitable<std::pair<ErrorCode, std::vector<ErrorCode>>> {
        co_return co_await broker.coordinator().delete_offsets(request.group_id, partitions);
      });
  response.error_code = code(group_error);
  if (group_error != ErrorCode::NONE) co_return response;
  size_t i = 0;
  for (auto& t : request.topics) {
    auto& tr = response.topics.emplace_back();
    tr.name = t.name;
    const bool denied = !authorized_topic(ctx, security::AclOperation::Read, t.name);
    for (auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.error_code = code(denied ? ErrorCode::TOPIC_AUTHORIZATION_FAILED : errors[i++]);
    }
  }
  co_return response;
}

}  // namespace runnel
