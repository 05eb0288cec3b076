// The transaction coordinator's state machine (Kafka's TransactionCoordinator
// rules) over a real __transaction_state partition on disk: epochs and
// fencing, KIP-360 recovery, the states' errors, markers and Complete*, and
// the state rebuilt from the log (a Prepare* finished by the new coordinator).
#include "txn/coordinator.h"

#include <gtest/gtest.h>

#include <future>

#include "base/clock.h"
#include "protocol/reader.h"
#include "storage/test_util.h"
#include "txn/txn_log_format.h"

namespace runnel::txn {
namespace {

using runnel::testing::TempDir;

class TxnCoordinatorTest : public ::testing::Test {
 protected:
  // Runs a coroutine on the shard and waits for its result.
  template <class F>
  auto run(F f) {
    using T = typename awaitable_traits<std::invoke_result_t<F&>>::value_type;
    std::promise<T> promise;
    auto future = promise.get_future();
    asio::co_spawn(shards_.at(0).executor(), f, [&promise](std::exception_ptr e, T value) {
      if (e)
        promise.set_exception(e);
      else
        promise.set_value(std::move(value));
    });
    return future.get();
  }

  TxnCoordinatorTest() : shards_(1) {
    flusher_.start();
    shards_.start();
    open_partition();
    make_coordinator();
  }
  ~TxnCoordinatorTest() override {
    run([this]() -> asio::awaitable<int> {
      coordinator_->stop();
      partition_->close();
      co_return 0;
    });
    shards_.stop();
    flusher_.stop();
  }

  void open_partition() {
    auto log =
        storage::PartitionLog::open(dir_.path() / "__transaction_state-0", storage::LogConfig{}, wall_clock_ms());
    partition_ = std::make_unique<cluster::Partition>(kTransactionStateTopic, PartitionId(0), std::move(log), flusher_,
                                                      shards_.at(0));
  }

  void make_coordinator() {
    CoordinatorConfig config;
    config.state_partitions = 1;
    config.abort_interval_ms = 100;
    config.compaction_min_records = 20;
    CoordinatorHooks hooks;
    hooks.state_partition = [this](int32_t p) { return p == 0 && partition_ ? partition_.get() : nullptr; };
    hooks.next_producer_id = [this]() -> asio::awaitable<std::optional<int64_t>> { co_return next_pid_++; };
    hooks.write_markers = [this](const MarkerRequest& r) -> asio::awaitable<std::vector<ErrorCode>> {
      markers_.push_back(r);
      std::vector<ErrorCode> errors(r.partitions.size(), ErrorCode::NONE);
      // The first attempt at a partition named "flaky" fails: it is retried.
      for (size_t i = 0; i < r.partitions.size(); ++i)
        if (r.partitions[i].topic == "flaky" && flaky_failures_-- > 0) errors[i] = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      co_return errors;
    };
    coordinator_ = std::make_unique<Coordinator>(shards_.at(0).io(), config, std::move(hooks));
    run([this]() -> asio::awaitable<int> {
      coordinator_->load(0);
      coordinator_->start();
      co_return 0;
    });
  }

  InitProducerIdResult init(const std::string& id, int64_t pid = -1, int16_t epoch = -1, int32_t timeout = 60000) {
    return run([&]() { return coordinator_->init_producer_id(id, timeout, pid, epoch); });
  }
  ErrorCode add(const std::string& id, int64_t pid, int16_t epoch, std::vector<TopicPartition> parts) {
    return run([&]() { return coordinator_->add_partitions(id, pid, epoch, parts); });
  }
  ErrorCode end(const std::string& id, int64_t pid, int16_t epoch, bool commit) {
    return run([&]() { return coordinator_->end_txn(id, pid, epoch, commit); });
  }
  std::optional<TxnMetadata> state(const std::string& id) {
    return run([&]() -> asio::awaitable<std::optional<TxnMetadata>> {
      auto* md = coordinator_->find(id);
      co_return md ? std::optional<TxnMetadata>(*md) : std::nullopt;
    });
  }
  int64_t partition_start() {
    return run([this]() -> asio::awaitable<int64_t> { co_return partition_->log_start_offset().value(); });
  }
  // Waits until the id reaches `s` (markers are written in the background).
  TxnMetadata wait_for(const std::string& id, TxnState s) {
    for (int i = 0; i < 500; ++i) {
      auto md = state(id);
      if (md && md->state == s && !md->pending) return *md;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << id << " never reached " << state_name(s);
    return {};
  }

  TempDir dir_;
  ShardSet shards_;
  storage::Flusher flusher_;
  std::unique_ptr<cluster::Partition> partition_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<MarkerRequest> markers_;
  int64_t next_pid_ = 1000;
  int flaky_failures_ = 1;
};

TEST_F(TxnCoordinatorTest, EpochBumpsAndCommit) {
  auto r = init("t");
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.producer_id, 1000);
  EXPECT_EQ(r.producer_epoch, 0);
  auto again = init("t");
  EXPECT_EQ(again.producer_id, 1000);
  EXPECT_EQ(again.producer_epoch, 1);
  // The states' errors before a transaction starts.
  EXPECT_EQ(end("t", 1000, 1, true), ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(add("t", 999, 1, {{"a", 0}}), ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  EXPECT_EQ(add("t", 1000, 0, {{"a", 0}}), ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(add("nobody", 1000, 1, {{"a", 0}}), ErrorCode::INVALID_PRODUCER_ID_MAPPING);

  ASSERT_EQ(add("t", 1000, 1, {{"a", 0}, {"b", 1}}), ErrorCode::NONE);
  ASSERT_EQ(add("t", 1000, 1, {{"a", 0}}), ErrorCode::NONE);  // already in: nothing written
  auto md = state("t");
  EXPECT_EQ(md->state, TxnState::Ongoing);
  EXPECT_GE(md->start_ms, 0);
  ASSERT_EQ(end("t", 1000, 1, true), ErrorCode::NONE);
  md = wait_for("t", TxnState::CompleteCommit);
  EXPECT_TRUE(md->partitions.empty());
  ASSERT_EQ(markers_.size(), 1u);
  EXPECT_TRUE(markers_[0].commit);
  EXPECT_EQ(markers_[0].producer_epoch, 1);
  EXPECT_EQ(markers_[0].partitions.size(), 2u);
  // A retried EndTxn of the same outcome succeeds, the other is refused.
  EXPECT_EQ(end("t", 1000, 1, true), ErrorCode::NONE);
  EXPECT_EQ(end("t", 1000, 1, false), ErrorCode::INVALID_TXN_STATE);
}

TEST_F(TxnCoordinatorTest, InvalidTimeout) {
  EXPECT_EQ(init("t", -1, -1, 900001).error, ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  EXPECT_EQ(init("t", -1, -1, 0).error, ErrorCode::INVALID_TRANSACTION_TIMEOUT);
  EXPECT_EQ(init("t", -1, -1, 900000).error, ErrorCode::NONE);
}

TEST_F(TxnCoordinatorTest, NewInstanceAbortsTheOpenTransaction) {
  auto r = init("t");
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::NONE);
  // The new instance is told to retry while the old transaction is aborted
  // with a bumped epoch (which fences the old instance).
  EXPECT_EQ(init("t").error, ErrorCode::CONCURRENT_TRANSACTIONS);
  wait_for("t", TxnState::CompleteAbort);
  ASSERT_EQ(markers_.size(), 1u);
  EXPECT_FALSE(markers_[0].commit);
  EXPECT_EQ(markers_[0].producer_epoch, 1);
  auto next = init("t");
  ASSERT_EQ(next.error, ErrorCode::NONE);
  EXPECT_EQ(next.producer_epoch, 2);
  EXPECT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, Kip360Recovery) {
  auto r = init("t");
  auto bumped = init("t", r.producer_id, r.producer_epoch);  // the producer's own bump
  ASSERT_EQ(bumped.error, ErrorCode::NONE);
  EXPECT_EQ(bumped.producer_epoch, r.producer_epoch + 1);
  // A retry of that bump gets the same answer.
  auto retried = init("t", r.producer_id, r.producer_epoch);
  EXPECT_EQ(retried.error, ErrorCode::NONE);
  EXPECT_EQ(retried.producer_epoch, bumped.producer_epoch);
  // An older epoch, or another producer id, is fenced.
  EXPECT_EQ(init("t", r.producer_id, static_cast<int16_t>(r.producer_epoch - 1)).error, ErrorCode::PRODUCER_FENCED);
  EXPECT_EQ(init("t", 424242, 0).error, ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, NextTransactionWaitsForTheMarkers) {
  auto r = init("t");
  flaky_failures_ = 3;  // the marker for "flaky" fails three times: 20 + 40 + 80 ms of backoff
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"flaky", 0}}), ErrorCode::NONE);
  ASSERT_EQ(end("t", r.producer_id, r.producer_epoch, false), ErrorCode::NONE);
  // The next transaction's first AddPartitionsToTxn is held until the abort
  // is complete, rather than refused (the client would retry 20 ms later).
  EXPECT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::NONE);
  EXPECT_EQ(markers_.size(), 4u);  // retried until written
  EXPECT_EQ(state("t")->state, TxnState::Ongoing);
}

// The next transaction's Ongoing is appended right behind the previous
// one's Complete*, before either is synced: one fdatasync acknowledges both.
TEST_F(TxnCoordinatorTest, NextOngoingSharesTheSyncOfTheCompletion) {
  auto r = init("t");
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"flaky", 0}}), ErrorCode::NONE);
  flaky_failures_ = 2;  // 20 + 40 ms of marker backoff: the next add() is waiting by then
  auto log_end = [this]() {
    return run([this]() -> asio::awaitable<int64_t> { co_return partition_->log_end_offset().value(); });
  };
  ASSERT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::NONE);
  const int64_t end_before = log_end();
  const uint64_t rounds_before = flusher_.rounds();
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::NONE);
  auto md = wait_for("t", TxnState::Ongoing);
  EXPECT_EQ(md.partitions, (std::map<std::string, std::set<int32_t>>{{"a", {0}}}));
  EXPECT_EQ(log_end(), end_before + 2) << "CompleteCommit, then Ongoing";
  EXPECT_EQ(flusher_.rounds(), rounds_before + 1) << "one sync for both";
  // Reloaded from the log: the newest record, Ongoing, is the state.
  run([this]() -> asio::awaitable<int> {
    coordinator_->unload(0);
    coordinator_->load(0);
    co_return 0;
  });
  auto reloaded = state("t");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->state, TxnState::Ongoing);
  ASSERT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::NONE);
  wait_for("t", TxnState::CompleteCommit);
}

TEST_F(TxnCoordinatorTest, PrepareStatesAnswerConcurrentTransactionsPastTheWait) {
  auto r = init("t");
  flaky_failures_ = 7;  // 20 + 40 + ... + 640 + 1000 ms of backoff: longer than a request waits (1 s)
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"flaky", 0}}), ErrorCode::NONE);
  ASSERT_EQ(end("t", r.producer_id, r.producer_epoch, false), ErrorCode::NONE);
  EXPECT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(end("t", r.producer_id, r.producer_epoch, false), ErrorCode::CONCURRENT_TRANSACTIONS);
  EXPECT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::INVALID_TXN_STATE);
  wait_for("t", TxnState::CompleteAbort);
  EXPECT_EQ(markers_.size(), 8u);  // retried until written
}

// AddPartitionsToTxn v4+ verify_only (KIP-890): Kafka's
// handleVerifyPartitionsInTransaction, nothing written.
TEST_F(TxnCoordinatorTest, VerifyPartitions) {
  using V = std::vector<ErrorCode>;
  auto verify = [this](const std::string& id, int64_t pid, int16_t epoch, std::vector<TopicPartition> parts) {
    return run([&]() -> asio::awaitable<V> { co_return coordinator_->verify_partitions(id, pid, epoch, parts); });
  };
  auto r = init("v");
  const int64_t pid = r.producer_id;
  const int16_t epoch = r.producer_epoch;
  auto log_end = [this]() {
    return run([this]() -> asio::awaitable<int64_t> { co_return partition_->log_end_offset().value(); });
  };
  // Empty: nothing added yet.
  EXPECT_EQ(verify("v", pid, epoch, {{"a", 0}}), V{ErrorCode::TRANSACTION_ABORTABLE});
  EXPECT_EQ(verify("nobody", pid, epoch, {{"a", 0}}), V{ErrorCode::INVALID_PRODUCER_ID_MAPPING});
  EXPECT_EQ(verify("v", pid + 1, epoch, {{"a", 0}}), V{ErrorCode::INVALID_PRODUCER_ID_MAPPING});
  EXPECT_EQ(verify("v", pid, epoch + 1, {{"a", 0}, {"b", 0}}),
            (V{ErrorCode::PRODUCER_FENCED, ErrorCode::PRODUCER_FENCED}));
  EXPECT_EQ(verify("", pid, epoch, {{"a", 0}}), V{ErrorCode::INVALID_REQUEST});
  ASSERT_EQ(add("v", pid, epoch, {{"a", 0}, {"flaky", 0}}), ErrorCode::NONE);
  const int64_t end_before = log_end();
  EXPECT_EQ(verify("v", pid, epoch, {{"a", 0}, {"a", 1}, {"b", 0}, {"flaky", 0}}),
            (V{ErrorCode::NONE, ErrorCode::TRANSACTION_ABORTABLE, ErrorCode::TRANSACTION_ABORTABLE, ErrorCode::NONE}));
  EXPECT_EQ(log_end(), end_before);  // nothing written to __transaction_state
  // Ending (PrepareAbort while the markers are retried): CONCURRENT_TRANSACTIONS.
  flaky_failures_ = 3;
  ASSERT_EQ(end("v", pid, epoch, false), ErrorCode::NONE);
  EXPECT_EQ(verify("v", pid, epoch, {{"a", 0}}), V{ErrorCode::CONCURRENT_TRANSACTIONS});
  // Ended: a late batch of the aborted transaction is not in any transaction.
  wait_for("v", TxnState::CompleteAbort);
  EXPECT_EQ(verify("v", pid, epoch, {{"a", 0}}), V{ErrorCode::TRANSACTION_ABORTABLE});
  // Not coordinated here.
  run([this]() -> asio::awaitable<int> {
    coordinator_->unload(0);
    co_return 0;
  });
  EXPECT_EQ(verify("v", pid, epoch, {{"a", 0}}), V{ErrorCode::NOT_COORDINATOR});
}

TEST_F(TxnCoordinatorTest, TimedOutTransactionIsAbortedAndFenced) {
  auto r = init("t", -1, -1, 1);
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"a", 0}}), ErrorCode::NONE);
  auto md = wait_for("t", TxnState::CompleteAbort);
  EXPECT_EQ(md.producer_epoch, r.producer_epoch + 1);
  EXPECT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::PRODUCER_FENCED);
}

TEST_F(TxnCoordinatorTest, StateIsRebuiltFromTheLogAndPrepareIsFinished) {
  auto r = init("t");
  ASSERT_EQ(add("t", r.producer_id, r.producer_epoch, {{"flaky", 0}}), ErrorCode::NONE);
  flaky_failures_ = 1000000;  // the markers never get through here
  ASSERT_EQ(end("t", r.producer_id, r.producer_epoch, true), ErrorCode::NONE);
  auto other = init("u");
  // A new coordinator (the partition reloaded, as after a failover) finds
  // "t" in PrepareCommit and finishes it, and "u" as it was.
  run([this]() -> asio::awaitable<int> {
    coordinator_->unload(0);
    co_return 0;
  });
  EXPECT_FALSE(state("t"));
  flaky_failures_ = 0;
  run([this]() -> asio::awaitable<int> {
    coordinator_->load(0);
    co_return 0;
  });
  wait_for("t", TxnState::CompleteCommit);
  EXPECT_TRUE(markers_.back().commit);
  auto u = state("u");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->producer_id, other.producer_id);
  EXPECT_EQ(u->state, TxnState::Empty);
}

TEST_F(TxnCoordinatorTest, CompactedBySnapshotAndReloadedTheSame) {
  for (int i = 0; i < 30; ++i) ASSERT_EQ(init("a").error, ErrorCode::NONE);
  auto b = init("b");
  ASSERT_EQ(add("b", b.producer_id, b.producer_epoch, {{"x", 1}}), ErrorCode::NONE);
  // 32 records for 2 live ids: the next check rewrites them and drops the rest.
  for (int i = 0; i < 300 && partition_start() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(partition_start(), 0);
  run([this]() -> asio::awaitable<int> {
    coordinator_->load(0);
    co_return 0;
  });
  EXPECT_EQ(state("a")->producer_epoch, 29);
  auto reloaded = state("b");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->state, TxnState::Ongoing);
  EXPECT_EQ(reloaded->partitions.at("x"), (std::set<int32_t>{1}));
}

TEST(TxnLogFormat, RoundTripAndKafkaLayout) {
  TxnLogValue v;
  v.producer_id = 7;
  v.producer_epoch = 3;
  v.transaction_timeout_ms = 60000;
  v.state = TxnState::Ongoing;
  v.partitions["a"] = {0, 2};
  v.last_update_timestamp_ms = 11;
  v.start_timestamp_ms = 10;
  auto bytes = encode_txn_value(v);
  // version 0, pid, epoch, timeout, status, 1 topic "a" with [0, 2], timestamps.
  ASSERT_EQ(bytes.size(), 2u + 8 + 2 + 4 + 1 + 4 + (2 + 1) + 4 + 8 + 8 + 8);
  EXPECT_EQ(bytes[1], 0);
  EXPECT_EQ(bytes[16], 1);  // Ongoing
  auto back = decode_txn_value(bytes);
  EXPECT_EQ(back.partitions, v.partitions);
  EXPECT_EQ(back.state, TxnState::Ongoing);
  EXPECT_EQ(back.start_timestamp_ms, 10);
  EXPECT_EQ(*decode_txn_key(encode_txn_key("my-id")), "my-id");
  TxnLogValue empty;
  empty.state = TxnState::CompleteCommit;
  auto e = encode_txn_value(empty);
  EXPECT_EQ(decode_txn_value(e).partitions.size(), 0u);
  EXPECT_THROW(decode_txn_value(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 20)), protocol::DecodeError);
}

TEST(TxnLogFormat, ReadsFlexibleV1WithTaggedFields) {
  // Kafka 3.9+ writes value v1: compact encodings, tagged fields (here
  // PreviousProducerId, tag 0) that this build skips.
  const std::vector<uint8_t> v1 = {
      0, 1, 0,   0,   0,   0,   0,   0, 3, 232,                        // version 1, producer id 1000
      0, 3, 0,   0,   234, 96,  1,                                     // epoch 3, timeout 60000, Ongoing
      2, 6, 't', 'o', 'p', 'i', 'c', 3, 0, 0,   0,  0, 0, 0, 0, 2, 0,  // [topic [0, 2]]
      0, 0, 0,   0,   0,   0,   0,   5, 0, 0,   0,  0, 0, 0, 0, 4,     // last update 5, start 4
      1, 0, 8,   0,   0,   0,   0,   0, 0, 3,   231};                  // tag 0: previous producer id 999
  auto v = decode_txn_value(v1);
  EXPECT_EQ(v.producer_id, 1000);
  EXPECT_EQ(v.producer_epoch, 3);
  EXPECT_EQ(v.state, TxnState::Ongoing);
  EXPECT_EQ(v.partitions.at("topic"), (std::set<int32_t>{0, 2}));
  EXPECT_EQ(v.last_update_timestamp_ms, 5);
  EXPECT_EQ(v.start_timestamp_ms, 4);
}

}  // namespace
}  // namespace runnel::txn
