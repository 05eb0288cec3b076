#pragma once
// The transaction coordinator of one shard (Kafka's TransactionCoordinator
// and TransactionStateManager, KIP-98 / KIP-360): the transactional ids whose
// __transaction_state partition this shard leads, their producer id and
// epoch, and the state machine Empty -> Ongoing -> PrepareCommit/PrepareAbort
// -> CompleteCommit/CompleteAbort. Every transition is appended to
// __transaction_state (Kafka's TransactionLog records) and acknowledged
// (acks=all) before it takes effect and the client is answered; while one is
// being written the id is "pending" and other requests for it get
// CONCURRENT_TRANSACTIONS. After a Prepare* is durable the markers are
// written (through the broker's MarkerWriter, retried until every partition
// has it) and then Complete* is appended. A coordinator that takes over a
// partition finishes the transactions it finds in Prepare*; transactions open
// longer than their timeout are aborted with a bumped epoch (fencing the
// producer), and ids idle for transactional.id.expiration.ms are removed.
// __transaction_state is compacted by snapshot, as __consumer_offsets is.
//
// Thread-safety: none; every method runs on the owning shard.
#include <asio.hpp>
#include <compare>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cluster/partition.h"
#include "txn/txn_log_format.h"

namespace runnel::txn {

inline const std::string kTransactionStateTopic = "__transaction_state";
// Its partition count in Kafka (transaction.state.log.num.partitions), which
// every broker of a cluster must agree on before the topic exists.
inline constexpr int32_t kKafkaStatePartitions = 50;

// Kafka's choice of partition: abs(transactionalId.hashCode()) % partitions.
int32_t state_partition_for(const std::string& transactional_id, int32_t partitions);

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

// What a coordinator asks of the broker to write markers: a COMMIT or ABORT
// marker for the producer on each partition, wherever it is led. One error
// per partition, in order (NONE once written).
struct MarkerRequest {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool commit = false;
  int32_t coordinator_epoch = 0;
  std::vector<TopicPartition> partitions;
};
using MarkerWriter = std::function<asio::awaitable<std::vector<ErrorCode>>(const MarkerRequest&)>;

struct CoordinatorConfig {
  int32_t state_partitions = kKafkaStatePartitions;  // transaction.state.log.num.partitions
  int32_t max_timeout_ms = 900000;                   // transaction.max.timeout.ms
  int64_t abort_interval_ms = 10000;                 // transaction.abort.timed.out.transaction.cleanup.interval.ms
  int64_t id_expiration_ms = 604800000;              // transactional.id.expiration.ms
  int64_t write_timeout_ms = 5000;                   // how long an append to __transaction_state may take
  // A partition is compacted (its live records rewritten at its end, the
  // log start moved past the rest) once it holds at least this many
  // superseded records, and at least as many as live ones
  // (runnel.offsets.compaction.min.records, as for __consumer_offsets).
  int64_t compaction_min_records = 10000;
};

struct CoordinatorHooks {
  // This shard's partition p of __transaction_state, when this broker leads it.
  std::function<cluster::Partition*(int32_t)> state_partition;
  std::function<asio::awaitable<std::optional<int64_t>>()> next_producer_id;
  MarkerWriter write_markers;
};

// What the coordinator knows of one transactional id (TransactionMetadata).
struct TxnMetadata {
  std::string transactional_id;
  int64_t producer_id = -1;
  int64_t last_producer_id = -1;
  int16_t producer_epoch = -1;
  int16_t last_producer_epoch = -1;
  int32_t timeout_ms = 0;
  TxnState state = TxnState::Empty;
  std::map<std::string, std::set<int32_t>> partitions;
  int64_t start_ms = -1;
  int64_t last_update_ms = 0;
  bool pending = false;  // a transition is being written
};

struct InitProducerIdResult {
  ErrorCode error = ErrorCode::NONE;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};

class Coordinator {
 public:
  Coordinator(asio::io_context& io, CoordinatorConfig config, CoordinatorHooks hooks);

  void start();
  void stop();

  // Rebuilds the transactional ids of one __transaction_state partition (this
  // broker now leads it; its leader epoch is the coordinator epoch) and
  // finishes the transactions found in Prepare*.
  void load(int32_t partition);
  // Forgets them (no longer the leader): requests get NOT_COORDINATOR, and
  // transitions and marker writes in flight stop.
  void unload(int32_t partition);

  // NOT_COORDINATOR unless this shard coordinates the id (NONE).
  ErrorCode coordinator_error(const std::string& transactional_id) const;

  // InitProducerId with a transactional id (expected_producer_id/epoch: -1,
  // or the producer's current ones, KIP-360). PRODUCER_FENCED is returned as
  // such; the handler maps it to INVALID_PRODUCER_EPOCH for old versions.
  asio::awaitable<InitProducerIdResult> init_producer_id(const std::string& transactional_id, int32_t timeout_ms,
                                                         int64_t expected_producer_id, int16_t expected_epoch);
  // AddPartitionsToTxn / AddOffsetsToTxn (the group's __consumer_offsets
  // partition): one error for all the partitions.
  asio::awaitable<ErrorCode> add_partitions(const std::string& transactional_id, int64_t producer_id,
                                            int16_t producer_epoch, const std::vector<TopicPartition>& partitions);
  // AddPartitionsToTxn v4+ with verify_only (KIP-890, Kafka's
  // handleVerifyPartitionsInTransaction): whether each partition is in the
  // producer's ongoing transaction, one error per partition, nothing
  // written: NONE (it is), TRANSACTION_ABORTABLE (it is not),
  // INVALID_PRODUCER_ID_MAPPING (unknown id, other producer id),
  // PRODUCER_FENCED (other epoch), CONCURRENT_TRANSACTIONS (Prepare*: the
  // transaction is ending), NOT_COORDINATOR, INVALID_REQUEST (empty id).
  std::vector<ErrorCode> verify_partitions(const std::string& transactional_id, int64_t producer_id,
                                           int16_t producer_epoch, const std::vector<TopicPartition>& partitions) const;
  // EndTxn: answered once Prepare* is durable; the markers follow.
  asio::awaitable<ErrorCode> end_txn(const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
                                     bool commit);

  // DescribeTransactions / ListTransactions.
  const TxnMetadata* find(const std::string& transactional_id) const;
  std::vector<TxnMetadata> list() const;

 private:
  struct Loaded {
    uint64_t generation = 0;
    int32_t coordinator_epoch = 0;
    int64_t records = 0;  // in the log from its start (counted at append)
    bool compacting = false;
  };
  TxnMetadata* find_mutable(const std::string& transactional_id);
  // The partition's load generation when this shard coordinates the id.
  std::optional<uint64_t> generation_of(const std::string& transactional_id) const;
  bool still_loaded(const std::string& transactional_id, uint64_t generation) const;
  struct Appended {
    ErrorCode error = ErrorCode::NONE;
    int64_t offset = -1;
  };
  // Appends `next` (or a tombstone when `tombstone`) to the id's partition.
  Appended append(const TxnMetadata& next, uint64_t generation, bool tombstone = false);
  // Waits until the id's partition has acknowledged everything up to `offset`.
  asio::awaitable<ErrorCode> acknowledged(const std::string& transactional_id, int64_t offset, uint64_t generation);
  // Appends `next` (or a tombstone when `tombstone`) and waits until it is
  // acknowledged. The caller has set `pending`; on NONE the caller applies it.
  asio::awaitable<ErrorCode> write(const TxnMetadata& next, uint64_t generation, bool tombstone = false);
  // Writes `next` as a transition of its id: pending while it is written,
  // applied once durable (if the partition is still this shard's).
  // (`next` by reference: GCC 12 destroys by-value temporaries of a co_await
  // expression twice.)
  asio::awaitable<ErrorCode> transit(const TxnMetadata& next, uint64_t generation);
  // Bumps the epoch of an Ongoing transaction and aborts it (a timeout, or
  // InitProducerId from a new instance of the producer).
  asio::awaitable<ErrorCode> fence_and_abort(const std::string& transactional_id, uint64_t generation);
  // Writes the markers of a transaction in Prepare* and then Complete*.
  asio::awaitable<void> complete(std::string transactional_id, uint64_t generation);
  // Waits, up to max_wait_ms, until no transition of the id is being written
  // and it is not in Prepare*: a producer that begins its next transaction
  // right after EndTxn is then answered as soon as the markers are written,
  // instead of with CONCURRENT_TRANSACTIONS and a client backoff (20 ms and
  // more in librdkafka and the Java client) per transaction.
  // With `chain`, it also returns once the id's Complete* is appended, the
  // only transition in flight (chainable_completion).
  asio::awaitable<void> await_settled(const std::string& transactional_id, int64_t max_wait_ms, bool chain = false);
  // The Complete* of the id appended and not yet acknowledged, when it is the
  // id's only transition in flight: the state add_partitions() builds the
  // next transaction's Ongoing on.
  const TxnMetadata* chainable_completion(const std::string& transactional_id) const;
  // Wakes the await_settled() callers of the id (all of them: nullptr).
  void notify_settled(const std::string* transactional_id);
  void schedule_tick();
  void tick();
  // Rewrites the state of every id of partition p at its end and, once that
  // is acknowledged, moves the log start past everything older. Runs only
  // while no transition of the partition is being written, so nothing
  // older than the snapshot is missing from it.
  void maybe_compact();
  asio::awaitable<void> compact(int32_t partition, uint64_t generation);

  asio::io_context& io_;
  CoordinatorConfig config_;
  CoordinatorHooks hooks_;
  std::map<int32_t, Loaded> loaded_;
  uint64_t next_generation_ = 1;
  std::map<std::string, TxnMetadata> txns_;
  // The transitions of an id appended and not yet acknowledged (at most two:
  // only a Complete* gets a successor before it is acknowledged). Numbered,
  // so that an older one acknowledged after a newer one is not applied over it.
  struct InFlight {
    uint64_t appended = 0;  // numbers handed out
    uint64_t applied = 0;   // the newest applied
    int count = 0;          // in flight
    TxnMetadata newest;     // the last appended
  };
  std::map<std::string, InFlight> in_flight_;
  // The timers of the await_settled() callers, by id (each owned by its caller's frame).
  std::multimap<std::string, asio::steady_timer*> settle_waiters_;
  asio::steady_timer tick_timer_;
  int64_t last_abort_check_ms_ = 0;
  bool stopped_ = false;
};

}  // namespace runnel::txn
