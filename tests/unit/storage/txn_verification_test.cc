// KIP-890 part 1 in a partition (Kafka's VerificationStateEntry and
// UnifiedLog's guard check): a transactional batch opens its producer's
// transaction only under the guard of a verification in progress; a marker
// (or the first transactional batch) ends the verification, so a guard taken
// before an abort marker cannot open a transaction after it (the hanging
// transaction); the lowest sequence seen while verifying bars higher ones.
#include <gtest/gtest.h>

#include "protocol/control_record.h"
#include "storage/partition_log.h"
#include "storage/producer_state.h"
#include "test_util.h"

namespace runnel::storage::txn_verification_test {
namespace {
using testing::make_batch;
using testing::TempDir;

constexpr int16_t kTransactional = 0x10;
constexpr uint64_t kNoGuard = TxnVerification::kNoGuard;

AppendResult produce(PartitionLog& log, int64_t pid, int16_t epoch, int32_t seq, bool txn,
                     const TxnVerification& verification, int records = 1) {
  auto b = make_batch({.records = records,
                       .attributes = static_cast<int16_t>(txn ? kTransactional : 0),
                       .producer_id = pid,
                       .producer_epoch = epoch,
                       .base_sequence = seq});
  return log.append(b, LeaderEpoch(0), 5000, verification);
}

AppendResult marker(PartitionLog& log, int64_t pid, int16_t epoch, bool commit) {
  return log.append_txn_marker(pid, epoch, protocol::TxnMarker{commit, 0}, LeaderEpoch(0), 5000);
}

TxnVerification required(uint64_t guard = kNoGuard) { return {true, guard}; }

TEST(TxnVerification, FirstBatchNeedsTheGuardOfItsVerification) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  // Unverified: refused, nothing written (UnifiedLog: "Record was not part
  // of an ongoing transaction").
  auto refused = produce(*log, 7, 0, 0, true, required());
  EXPECT_EQ(refused.error, ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(refused.error_message, "Record was not part of an ongoing transaction");
  EXPECT_EQ(log->log_end_offset(), 0);
  // Verification off (transaction.partition.verification.enable=false): as before KIP-890.
  // (Producer 6, so that 7's state stays untouched.)
  EXPECT_EQ(produce(*log, 6, 0, 0, true, {}).error, ErrorCode::NONE);  // 0
  // Plain (idempotent) batches never need a verification.
  EXPECT_EQ(produce(*log, 5, 0, 0, false, required()).error, ErrorCode::NONE);  // 1

  const uint64_t g = log->start_txn_verification(7, 0, 0, 1000);
  EXPECT_NE(g, kNoGuard);
  EXPECT_EQ(log->start_txn_verification(7, 0, 0, 1000), g);  // the same entry, the same guard
  EXPECT_EQ(produce(*log, 7, 0, 0, true, required()).error, ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(produce(*log, 7, 0, 0, true, required(g + 1000)).error, ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(log->log_end_offset(), 2);
  ASSERT_EQ(produce(*log, 7, 0, 0, true, required(g)).error, ErrorCode::NONE);  // 2: opens the transaction
  EXPECT_EQ(log->producer_state().find(7)->current_txn_first_offset, 2);
  EXPECT_EQ(log->producer_state().verification(7), nullptr);  // done with
  // The transaction is open: nothing more to verify, later batches need no guard.
  EXPECT_EQ(log->start_txn_verification(7, 1, 0, 1000), kNoGuard);
  EXPECT_EQ(produce(*log, 7, 0, 1, true, required()).error, ErrorCode::NONE);  // 3
  EXPECT_EQ(log->producer_state().verification(7), nullptr);
}

TEST(TxnVerification, AGuardTakenBeforeAMarkerIsUselessAfterIt) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  const uint64_t g1 = log->start_txn_verification(7, 0, 0, 1000);
  ASSERT_EQ(produce(*log, 7, 0, 0, true, required(g1)).error, ErrorCode::NONE);  // 0
  ASSERT_EQ(marker(*log, 7, 0, false).error, ErrorCode::NONE);                   // 1: abort
  EXPECT_FALSE(log->producer_state().has_ongoing_txn(7));
  // A late batch of the aborted transaction starts a verification; the
  // coordinator would refuse it. Even had it said yes, an abort marker
  // written meanwhile (the coordinator ending the next transaction) drops the
  // entry: the stale guard opens nothing (Kafka's ABA case).
  const uint64_t g2 = log->start_txn_verification(7, 1, 0, 1000);
  EXPECT_NE(g2, kNoGuard);
  EXPECT_NE(g2, g1);
  ASSERT_EQ(marker(*log, 7, 0, false).error, ErrorCode::NONE);  // 2
  EXPECT_EQ(log->producer_state().verification(7), nullptr);
  auto late = produce(*log, 7, 0, 1, true, required(g2));
  EXPECT_EQ(late.error, ErrorCode::INVALID_TXN_STATE);
  EXPECT_EQ(log->log_end_offset(), 3);
  EXPECT_FALSE(log->producer_state().has_ongoing_txn(7));
  log->on_high_watermark(log->log_end_offset());
  EXPECT_EQ(log->last_stable_offset(log->log_end_offset()), 3);  // nothing left hanging
  // A new verification gets a new guard, which works.
  const uint64_t g3 = log->start_txn_verification(7, 1, 0, 1000);
  EXPECT_NE(g3, g2);
  EXPECT_EQ(produce(*log, 7, 0, 1, true, required(g3)).error, ErrorCode::NONE);  // 3
}

TEST(TxnVerification, LowestSequenceSeenWhileVerifying) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  // Producer 8 is new here, so any first sequence is in order (KIP-360).
  const uint64_t g = log->start_txn_verification(8, 5, 0, 1000);
  EXPECT_EQ(log->producer_state().verification(8)->lowest_seq, 5);
  EXPECT_EQ(log->start_txn_verification(8, 3, 0, 1000), g);  // a lower one (the retry of an earlier batch)
  EXPECT_EQ(log->producer_state().verification(8)->lowest_seq, 3);
  EXPECT_EQ(log->start_txn_verification(8, 9, 0, 1000), g);
  EXPECT_EQ(log->producer_state().verification(8)->lowest_seq, 3);
  // Above the lowest: refused even with the guard, so the batch with the
  // lower sequence cannot be overtaken (and then loop on OUT_OF_ORDER).
  auto above = produce(*log, 8, 0, 5, true, required(g));
  EXPECT_EQ(above.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_NE(above.error_message.find("earliest seen sequence"), std::string::npos);
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(produce(*log, 8, 0, 3, true, required(g)).error, ErrorCode::NONE);  // 0
  // A new epoch resets the lowest sequence.
  ASSERT_EQ(marker(*log, 8, 0, true).error, ErrorCode::NONE);  // 1
  log->start_txn_verification(8, 4, 0, 1000);
  log->start_txn_verification(8, 0, 1, 1000);
  EXPECT_EQ(log->producer_state().verification(8)->epoch, 1);
  EXPECT_EQ(log->producer_state().verification(8)->lowest_seq, 0);
}

TEST(TxnVerification, TableRules) {
  ProducerStateTable t;
  const uint64_t g = t.start_verification(1, 0, 0, 1000);
  EXPECT_TRUE(t.append_allowed(1, {true, g}));
  EXPECT_FALSE(t.append_allowed(1, {true, kNoGuard}));
  EXPECT_TRUE(t.append_allowed(1, {false, kNoGuard}));  // not required
  EXPECT_FALSE(t.append_allowed(2, {true, g}));         // another producer's guard
  // A plain batch leaves the verification; a transactional one (any origin:
  // replicated or recovered too) or a marker ends it.
  t.record(1, 0, 0, 0, 0, 0, 1000, /*transactional=*/false);
  EXPECT_NE(t.verification(1), nullptr);
  t.record(1, 0, 1, 1, 1, 1, 1000, /*transactional=*/true);
  EXPECT_EQ(t.verification(1), nullptr);
  EXPECT_TRUE(t.has_ongoing_txn(1));
  EXPECT_TRUE(t.append_allowed(1, {true, kNoGuard}));  // open: no guard needed
  EXPECT_EQ(t.start_verification(1, 2, 0, 1000), kNoGuard);
  EXPECT_EQ(t.verification(1), nullptr);
  t.complete(1, 0, 0, false, 2, 1000);
  t.start_verification(1, 2, 0, 1000);
  t.complete(1, 0, 0, false, 3, 1000);  // a marker with no transaction open ends it too
  EXPECT_EQ(t.verification(1), nullptr);
  // Never snapshotted, never compared.
  ProducerStateTable u = t;
  t.start_verification(3, 0, 0, 1000);
  EXPECT_EQ(t, u);
  auto decoded = ProducerStateTable::decode(t.encode());
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->verifications().empty());
  // Expired with producer.id.expiration.ms, cleared with the table.
  t.start_verification(4, 0, 0, 2000);
  t.expire(1500);
  EXPECT_EQ(t.verification(3), nullptr);
  EXPECT_NE(t.verification(4), nullptr);
  t.clear();
  EXPECT_TRUE(t.verifications().empty());
}

}  // namespace
}  // namespace runnel::storage::txn_verification_test
