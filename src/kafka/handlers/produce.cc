// Produce (key 0). Appends each partition's batches on the shard that owns the
// partition, then, for acks=all, waits until they are acknowledged: on a
// single node fdatasync'd (group commit: the appends of every partition are
// made first, so one round of syncs covers them all), in a cluster below the
// high watermark (durable on the whole ISR), with min.insync.replicas checked
// before the append. acks=1 waits for the local fdatasync when the append
// reached the topic's flush.messages (Kafka flushes in the append then).
// acks=0 gets no response at all.
//
// Transaction verification (KIP-890 part 1, Kafka's ReplicaManager
// handleProduceAppend), with transaction.partition.verification.enable: a
// transactional batch whose producer has no transaction open in the
// partition is held while the coordinator is asked whether the partition is
// in that transaction (Broker::verify_txn_partitions, all such partitions of
// the request in one question), and appended under the guard the partition
// gave it (storage/producer_state.h) only if it is. The coordinator's answer,
// as Kafka turns it into a produce error: not in the transaction
// (TRANSACTION_ABORTABLE) is INVALID_TXN_STATE before Produce v11 and
// TRANSACTION_ABORTABLE from v11 (KIP-890's new error); a stale epoch
// INVALID_PRODUCER_EPOCH; a coordinator moving, loading, unreachable or the
// transaction ending (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE, NETWORK_EXCEPTION, CONCURRENT_TRANSACTIONS)
// NOT_ENOUGH_REPLICAS, which every client retries without a metadata refresh.
// Produce v12 (a client that saw transaction.version 2, which runnel does
// not finalize) is served as v11: verified, not added (see README).
#include <spdlog/spdlog.h>

#include <deque>

#include "base/await_callback.h"
#include "base/clock.h"
#include "base/endian.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "kafka/handlers/leader_hints.h"
#include "protocol/legacy_messages.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "runtime/on_shards.h"
#include "security/session.h"

namespace runnel {
namespace {

using Response = protocol::ProduceResponse;
using PartitionResponse = Response::PartitionProduceResponse;

struct PendingPartition {
  Shard* owner;
  std::string topic;
  int32_t partition;
  int64_t last_offset;
  // Indexes, not a pointer: later emplace_backs reallocate the response vectors.
  size_t topic_index;
  size_t partition_index;
  // Acknowledged by the leader's own sync alone: on a single node, or acks=1
  // over flush.messages. Otherwise acks=all waits for the ISR.
  bool local = false;
};

// A partition's batch held for the coordinator's word (KIP-890).
struct Verifying {
  Shard* shard;
  std::string topic;
  int32_t partition;
  std::span<uint8_t> batches;
  uint64_t guard;
  size_t topic_index;
  size_t partition_index;
};

// The produce error for a verification's answer (ReplicaManager's
// postVerificationCallback, AddPartitionsToTxnManager), with its message.
ErrorCode verification_error(ErrorCode error, int16_t version, std::optional<std::string>& message) {
  switch (error) {
    case ErrorCode::TRANSACTION_ABORTABLE:
      // Before v11 clients know no TRANSACTION_ABORTABLE.
      if (version >= 11) return error;
      [[fallthrough]];
    case ErrorCode::INVALID_TXN_STATE:
      message = "Partition was not added to the transaction";
      return ErrorCode::INVALID_TXN_STATE;
    case ErrorCode::PRODUCER_FENCED:
      return ErrorCode::INVALID_PRODUCER_EPOCH;
    case ErrorCode::CONCURRENT_TRANSACTIONS:
    case ErrorCode::NETWORK_EXCEPTION:
    case ErrorCode::COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode::COORDINATOR_NOT_AVAILABLE:
    case ErrorCode::NOT_COORDINATOR:
      message = "Unable to verify the partition has been added to the transaction. Underlying error: " +
                std::string(error_name(error));
      return ErrorCode::NOT_ENOUGH_REPLICAS;
    default:
      return error;
  }
}

// Whether `bytes` begins with a v2 transactional batch of a real producer:
// the batches KIP-890 verification is about.
bool is_transactional_batch(std::span<const uint8_t> bytes) {
  if (bytes.size() < protocol::kBatchHeaderSize) return false;
  protocol::BatchView v(bytes);
  return v.magic() == 2 && v.is_transactional() && v.producer_id() >= 0;
}

// Whether `bytes` starts with a whole batch followed by at least a second
// batch's length field; anything less is left to the log's validation.
bool holds_several_batches(std::span<const uint8_t> bytes) {
  if (bytes.size() < protocol::kBatchLogOverhead) return false;
  int64_t first = static_cast<int32_t>(load_be32(bytes.data() + 8));
  if (first < 0) return false;
  return bytes.size() >= first + 2 * protocol::kBatchLogOverhead;
}

// producer_byte_rate (Kafka's quotas.produce): the request's size counts
// against its client's quota, whatever became of its batches; over it, the
// answer says how long the client waits and the connection waits as long.
void record_produce_quota(RequestContext& ctx, Response& response) {
  auto& quotas = ctx.broker.client_quotas();
  if (!ctx.session || !quotas.enabled(ClientQuotaManager::Kind::kProduce)) return;
  ctx.throttle_ms = quotas.record(ClientQuotaManager::Kind::kProduce, ctx.session->principal,
                                  ctx.client_id.value_or(""), ctx.request_bytes, monotonic_ns() / 1'000'000);
  response.throttle_time_ms = ctx.throttle_ms;
}

}  // namespace

asio::awaitable<HandlerResult> handle_produce(RequestContext& ctx, protocol::Reader& reader) {
  Broker& broker = ctx.broker;
  protocol::ProduceRequest request;
  request.read(reader, ctx.api_version);

  Response response;
  const bool valid_acks = request.acks == -1 || request.acks == 0 || request.acks == 1;
  std::vector<PendingPartition> durable;
  // Produce v0-2 message sets converted to record batches, alive until the
  // appends are done (a deque: growing it moves no buffer).
  std::deque<std::vector<uint8_t>> converted;
  // ACLs, as Kafka's handleProduceRequest: a transactional producer needs
  // WRITE on its transactional id (else every partition fails), each topic
  // WRITE (else TOPIC_AUTHORIZATION_FAILED for its partitions).
  const bool txn_denied =
      request.transactional_id && !authorized_txn(ctx, security::AclOperation::Write, *request.transactional_id);
  // KIP-890: the transactional batches held for verification, and the one
  // producer (id, epoch) a request's transactional batches may belong to.
  const bool verification_on = broker.txn_verification_enabled();
  std::vector<Verifying> verifying;
  int64_t txn_producer_id = -1;
  int16_t txn_producer_epoch = -1;
  for (const auto& topic_data : request.topic_data)
    for (const auto& partition_data : topic_data.partition_data) {
      const auto& bytes = partition_data.records.memory;
      if (partition_data.records.is_null || !is_transactional_batch(bytes)) continue;
      protocol::BatchView v(bytes);
      if (txn_producer_id < 0) {
        txn_producer_id = v.producer_id();
        txn_producer_epoch = v.producer_epoch();
      } else if (txn_producer_id != v.producer_id() || txn_producer_epoch != v.producer_epoch()) {
        // ReplicaManager.handleProduceAppend: "Transactional records contained
        // more than one producer ID" fails the whole request, nothing appended.
        for (const auto& td : request.topic_data) {
          auto& tr = response.responses.emplace_back();
          tr.name = td.name;
          for (const auto& pd : td.partition_data) {
            auto& r = tr.partition_responses.emplace_back();
            r.index = pd.index;
            r.error_code = code(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
          }
        }
        if (ctx.ordered) ctx.ordered();
        record_produce_quota(ctx, response);
        if (request.acks == 0) co_return std::nullopt;
        protocol::Writer writer;
        response.write(writer, ctx.api_version);
        co_return std::move(writer).finish();
      }
    }
  // One partition's append: made on its shard (append_on_shard), then
  // recorded in the response on ours (record_append; indexes, not
  // references: the response vectors grow meanwhile). With `verify_first` (a
  // transactional batch, verification on), the partition first opens the
  // producer's verification in the same hop: when it must be verified (no
  // transaction of the producer open there) nothing is appended and its
  // guard is returned for verify_txn_partitions; otherwise (and always
  // without `verify_first`) kNoGuard.
  struct Append {
    Shard* owner;
    const std::string* topic;
    int32_t index;
    std::span<uint8_t> batches;
    bool verify_first;
    uint64_t guard;
    size_t topic_index;
    size_t partition_index;
    // Filled on the owner's shard.
    storage::AppendResult result;
    bool flush_wait = false;
    bool replicated = false;
    uint64_t new_guard = storage::TxnVerification::kNoGuard;
  };
  const bool acks_all = request.acks == -1;
  const int16_t acks = request.acks;
  auto append_on_shard = [&broker, acks_all, acks, verification_on](Append& a) {
    const storage::TxnVerification verification{verification_on, a.guard};
    auto* partition = broker.partition(*a.topic, a.index);
    if (!partition) {
      a.result.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      return;
    }
    if (a.verify_first) {
      protocol::BatchView v(a.batches);
      a.result.error = partition->start_txn_verification(v.producer_id(), v.base_sequence(), v.producer_epoch(),
                                                         now_ms(), a.new_guard);
      if (a.result.error != ErrorCode::NONE || a.new_guard != storage::TxnVerification::kNoGuard) return;
    }
    if (acks_all) {
      // Kafka refuses acks=all up front while the ISR is too small.
      a.result.error = partition->check_min_insync();
      if (a.result.error != ErrorCode::NONE) return;
    }
    a.result = partition->append(a.batches, now_ms(), verification);
    a.replicated = partition->replicated();
    a.flush_wait = acks == 1 && a.result.error == ErrorCode::NONE && partition->flush_messages_due();
  };
  auto record_append = [&](Append& a) -> uint64_t {
    if (a.new_guard != storage::TxnVerification::kNoGuard) return a.new_guard;
    auto& pr = response.responses[a.topic_index].partition_responses[a.partition_index];
    pr.error_code = code(a.result.error);
    if (a.result.error != ErrorCode::NONE) {
      if (!a.result.error_message.empty()) pr.error_message = std::move(a.result.error_message);
      for (auto& e : a.result.record_errors) {
        auto& re = pr.record_errors.emplace_back();
        re.batch_index = e.batch_index;
        re.batch_index_error_message = std::move(e.message);
      }
      return storage::TxnVerification::kNoGuard;
    }
    pr.base_offset = a.result.base_offset;
    pr.log_append_time_ms = a.result.log_append_time;
    pr.log_start_offset = a.result.log_start_offset;
    if (acks_all || a.flush_wait)
      durable.push_back({a.owner, *a.topic, a.index, a.result.last_offset, a.topic_index, a.partition_index,
                         a.flush_wait || !a.replicated});
    return storage::TxnVerification::kNoGuard;
  };
  // The request's appends, made after every partition was checked: one hop
  // per shard for all of its partitions (in the request's order), not one
  // per partition, which a request over hundreds of partitions paid for
  // each (bench/README.md "One hop per shard").
  std::vector<Append> appends;
  for (auto& topic_data : request.topic_data) {
    auto& topic_response = response.responses.emplace_back();
    topic_response.name = topic_data.name;
    auto info = broker.topics().shape(topic_data.name);
    const bool topic_denied = !authorized_topic(ctx, security::AclOperation::Write, topic_data.name);
    // Kafka's coordinators write their internal topics themselves; a client
    // may only with the admin tools' client id (KafkaApis'
    // internalTopicsAllowed), as kafka-reassign and repair tools do.
    const bool internal_denied = info && info->internal && ctx.client_id != "__admin_client";
    for (auto& partition_data : topic_data.partition_data) {
      auto& pr = topic_response.partition_responses.emplace_back();
      pr.index = partition_data.index;
      if (txn_denied) {
        pr.error_code = code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        continue;
      }
      if (!valid_acks) {
        pr.error_code = code(ErrorCode::INVALID_REQUIRED_ACKS);
        continue;
      }
      if (topic_denied) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (internal_denied) {
        pr.error_code = code(ErrorCode::INVALID_TOPIC_EXCEPTION);
        pr.error_message = "Cannot append to internal topic " + topic_data.name;
        continue;
      }
      if (!info || partition_data.index < 0 || partition_data.index >= info->partitions) {
        pr.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      if (partition_data.records.is_null || partition_data.records.memory.empty()) {
        pr.error_code = code(ErrorCode::CORRUPT_MESSAGE);
        continue;
      }
      // The request frame is ours and outlives this handler: the log patches
      // offsets into these bytes in place and writes them as they are.
      auto bytes = partition_data.records.memory;
      if (ctx.api_version < 3 && protocol::legacy_magic(bytes) < 2) {
        // Kafka 3.x's up-conversion of the pre-0.11 formats (magic 0 and 1).
        auto conversion = protocol::upconvert_message_set(bytes);
        if (conversion.error != ErrorCode::NONE) {
          pr.error_code = code(conversion.error);
          continue;
        }
        converted.push_back(std::move(conversion.batch));
        bytes = converted.back();
      } else if (ctx.api_version >= 3 && holds_several_batches(bytes)) {
        // Kafka (Produce v3+): exactly one record batch per partition.
        pr.error_code = code(ErrorCode::INVALID_RECORD);
        pr.error_message = "Produce requests with version " + std::to_string(ctx.api_version) +
                           " are only allowed to contain exactly one record batch";
        continue;
      }
      if (ctx.api_version < 7 && bytes.size() >= protocol::kBatchHeaderSize &&
          protocol::BatchView(bytes).compression() == protocol::CompressionType::Zstd) {
        // ProduceRequest.validateRecords: zstd needs Produce v7 (KIP-110).
        pr.error_code = code(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);
        pr.error_message = "Produce requests with version " + std::to_string(ctx.api_version) +
                           " are not allowed to use ZStandard compression";
        continue;
      }
      std::span<uint8_t> batches(const_cast<uint8_t*>(bytes.data()), bytes.size());
      Shard& owner = broker.owner(topic_data.name, partition_data.index);
      const size_t topic_index = response.responses.size() - 1;
      const size_t partition_index = topic_response.partition_responses.size() - 1;
      const bool verify_first = verification_on && request.transactional_id && is_transactional_batch(batches);
      appends.push_back({&owner,
                         &topic_data.name,
                         partition_data.index,
                         batches,
                         verify_first,
                         storage::TxnVerification::kNoGuard,
                         topic_index,
                         partition_index,
                         {}});
    }
  }
  {
    const auto owners = owners_in_order(appends);
    if (owners.size() == 1) ctx.partitions_shard = owners.front();
    for (Shard* shard : owners)
      co_await on_shard(*shard, [&appends, &append_on_shard, shard]() {
        for (auto& a : appends)
          if (a.owner == shard) append_on_shard(a);
      });
    for (auto& a : appends) {
      const uint64_t guard = record_append(a);
      if (guard != storage::TxnVerification::kNoGuard)
        verifying.push_back({a.owner, *a.topic, a.index, a.batches, guard, a.topic_index, a.partition_index});
    }
  }

  if (!verifying.empty()) {
    std::vector<txn::TopicPartition> partitions;
    for (const auto& w : verifying) partitions.push_back({w.topic, w.partition});
    auto errors = co_await broker.verify_txn_partitions(*request.transactional_id, txn_producer_id, txn_producer_epoch,
                                                        partitions);
    for (size_t i = 0; i < verifying.size(); ++i) {
      const auto& w = verifying[i];
      const ErrorCode error = i < errors.size() ? errors[i] : ErrorCode::UNKNOWN_SERVER_ERROR;
      if (error == ErrorCode::NONE) {
        Append a{w.shard, &w.topic,      w.partition,       w.batches, /*verify_first=*/false,
                 w.guard, w.topic_index, w.partition_index, {}};
        co_await on_shard(*w.shard, [&a, &append_on_shard]() { append_on_shard(a); });
        (void)record_append(a);
        continue;
      }
      auto& pr = response.responses[w.topic_index].partition_responses[w.partition_index];
      pr.error_code = code(verification_error(error, ctx.api_version, pr.error_message));
    }
  }

  // Every batch is in its log: a later request on this connection may now be
  // appended while this one waits for its sync, and share it.
  if (ctx.ordered) ctx.ordered();

  // Every partition's acknowledgement is awaited at once, so that their
  // syncs overlap (one after the other, each partition's sync would only be
  // requested once the previous partition's was done). One timeout for the
  // whole request, as Kafka's delayed produce has.
  //
  // A partition acknowledged by its own sync alone (a single node, or
  // acks=1 over flush.messages) is waited for by a callback, within one job
  // per shard; only partitions waiting for followers get a job of their own
  // (a timeout each). A produce to 1,000 partitions on one node thus makes
  // one hop per shard instead of a coroutine per partition.
  const int64_t timeout_ms = std::max<int64_t>(0, request.timeout_ms);
  std::vector<ErrorCode> acknowledged(durable.size(), ErrorCode::UNKNOWN_SERVER_ERROR);
  // Every job writes its partitions' answers into `acknowledged` (each
  // index by one job, on its shard; read here once all are done).
  std::vector<ShardJob<ErrorCode>> waits;
  for (Shard* shard : owners_in_order(durable, [](const PendingPartition& d) { return d.local; })) {
    waits.push_back({shard, [&broker, &durable, &acknowledged, shard]() -> asio::awaitable<ErrorCode> {
                       co_await await_callback<bool>([&](auto done) {
                         auto left = std::make_shared<size_t>(1);  // 1: until every wait is registered
                         auto one_done = [left, done]() mutable {
                           if (--*left == 0) done(true);
                         };
                         for (size_t i = 0; i < durable.size(); ++i) {
                           const auto& d = durable[i];
                           if (d.owner != shard || !d.local) continue;
                           auto* partition = broker.partition(d.topic, d.partition);
                           if (!partition) {
                             acknowledged[i] = ErrorCode::NOT_LEADER_OR_FOLLOWER;
                             continue;
                           }
                           ++*left;
                           partition->when_durable(
                               Offset(d.last_offset), [&acknowledged, i, one_done](bool synced) mutable {
                                 acknowledged[i] = synced ? ErrorCode::NONE : ErrorCode::KAFKA_STORAGE_ERROR;
                                 one_done();
                               });
                         }
                         one_done();
                       });
                       co_return ErrorCode::NONE;
                     }});
  }
  for (size_t i = 0; i < durable.size(); ++i) {
    const auto& d = durable[i];
    if (d.local) continue;
    waits.push_back({d.owner, [&broker, &d, &acknowledged, i, timeout_ms]() -> asio::awaitable<ErrorCode> {
                       auto* partition = broker.partition(d.topic, d.partition);
                       if (!partition)
                         acknowledged[i] = ErrorCode::NOT_LEADER_OR_FOLLOWER;
                       else
                         acknowledged[i] = co_await partition->wait_acknowledged(Offset(d.last_offset), timeout_ms);
                       co_return ErrorCode::NONE;
                     }});
  }
  // A job that throws leaves its partitions at UNKNOWN_SERVER_ERROR.
  (void)co_await on_shards_concurrently(waits, ErrorCode::UNKNOWN_SERVER_ERROR);
  for (size_t i = 0; i < durable.size(); ++i) {
    const auto& d = durable[i];
    response.responses[d.topic_index].partition_responses[d.partition_index].error_code = code(acknowledged[i]);
  }

  record_produce_quota(ctx, response);
  if (request.acks == 0) co_return std::nullopt;
  add_produce_leader_hints(broker, response, ctx.api_version);
  protocol::Writer writer;
  response.write(writer, ctx.api_version);
  co_return std::move(writer).finish();
}

}  // namespace runnel
