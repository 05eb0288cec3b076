// Suffix truncation (PartitionLog::truncate_to): against the written batches
// as an oracle, across segments, with reopen, and under simulated crashes at
// every sync of the operation (FaultInjectionEnv).
#include <gtest/gtest.h>

#include <random>

#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/fault_injection_env.h"
#include "storage/partition_log.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::make_batch;
using testing::read_all;
using testing::ReadBatch;
using testing::TempDir;

struct Written {
  int64_t base, last;
  int32_t epoch;
};

// Appends `n` random batches (epochs rising now and then); returns them.
std::vector<Written> fill(PartitionLog& log, std::mt19937& rng, int n) {
  std::vector<Written> out;
  int32_t epoch = static_cast<int32_t>(log.latest_epoch().value_or(LeaderEpoch(0)).value());
  for (int i = 0; i < n; ++i) {
    if (rng() % 5 == 0) epoch += 1 + static_cast<int32_t>(rng() % 2);
    auto b = make_batch({.records = 1 + static_cast<int>(rng() % 4), .value_size = rng() % 60});
    auto r = log.append(b, LeaderEpoch(epoch), 0);
    EXPECT_EQ(r.error, ErrorCode::NONE);
    out.push_back({r.base_offset, r.last_offset, epoch});
  }
  return out;
}

// Makes everything appended so far durable, as the flusher would.
void sync_everything(PartitionLog& log, FaultInjectionEnv& env, const std::filesystem::path& dir) {
  testing::sync_now(log, env);
  ASSERT_TRUE(env.sync_dir(dir));
}

// The epoch entries a log of these batches must have.
std::vector<EpochEntry> epochs_of(const std::vector<ReadBatch>& batches) {
  EpochList l;
  for (const auto& b : batches)
    l.assign(LeaderEpoch(protocol::BatchView(b.bytes).partition_leader_epoch()), Offset(b.base_offset));
  return l.entries();
}

// The log holds exactly the batches of `before` whose last offset is below `target`.
void expect_truncated(const PartitionLog& log, const std::vector<ReadBatch>& before, int64_t target) {
  auto after = read_all(log);
  size_t keep = 0;
  while (keep < before.size() && before[keep].last_offset < target) ++keep;
  ASSERT_EQ(after.size(), keep) << "target " << target;
  for (size_t i = 0; i < keep; ++i) ASSERT_EQ(after[i].bytes, before[i].bytes);
  int64_t end = keep ? before[keep - 1].last_offset + 1 : log.log_start_offset();
  EXPECT_EQ(log.log_end_offset(), end);
  EXPECT_LE(log.log_end_offset(), target);
  EXPECT_EQ(log.epoch_entries(), epochs_of(after));
}

TEST(Truncate, RandomTargetsAgainstTheWrittenBatches) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 60; ++iter) {
    TempDir dir;
    LogConfig config;
    config.segment_bytes = 400 + static_cast<int32_t>(rng() % 800);
    config.index_interval_bytes = 64;
    auto log = PartitionLog::open(dir.path(), config, 0);
    fill(*log, rng, 40);
    auto before = read_all(*log);
    int64_t target = static_cast<int64_t>(rng() % static_cast<uint64_t>(log->log_end_offset() + 3));
    ASSERT_TRUE(log->truncate_to(Offset(target)));
    expect_truncated(*log, before, target);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / PartitionLog::kTruncateToFile));
    // Every remaining offset is still found through the indexes.
    for (const auto& b : read_all(*log)) {
      auto r = testing::read_batches(log->read(b.last_offset, 1, true, log->log_end_offset()));
      ASSERT_FALSE(r.empty());
      EXPECT_EQ(r[0].base_offset, b.base_offset);
    }
    // Appends continue at the new end, and everything survives a reopen.
    int64_t end = log->log_end_offset();
    auto more = fill(*log, rng, 5);
    EXPECT_EQ(more.front().base, end);
    auto expected = read_all(*log);
    bool clean = iter % 2 == 0;
    if (clean) log->close();
    log.reset();
    auto again = PartitionLog::open(dir.path(), config, 0);
    EXPECT_EQ(again->recovered_on_open(), !clean);
    auto got = read_all(*again);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bytes, expected[i].bytes);
    EXPECT_EQ(again->epoch_entries(), epochs_of(got));
  }
}

TEST(Truncate, BelowTheStartIsRefusedAndPastTheEndIsANoOp) {
  TempDir dir;
  std::mt19937 rng(2);
  auto log = PartitionLog::open(dir.path(), {}, 0);
  fill(*log, rng, 10);
  int64_t end = log->log_end_offset();
  ASSERT_TRUE(log->truncate_to(Offset(end + 5)));
  EXPECT_EQ(log->log_end_offset(), end);
  ASSERT_GT(log->delete_records_before(3), 0);
  EXPECT_FALSE(log->truncate_to(Offset(log->log_start_offset() - 1)));
  EXPECT_EQ(log->log_end_offset(), end);
}

// A crash at each sync of truncate_to: after power loss and recovery the log
// is accepted, holds no record at or past the target once the intent record
// was durable, and still holds every batch below the target.
TEST(Truncate, CrashAtEverySyncNeverResurrectsTheSuffix) {
  std::mt19937 rng(5);
  int intent_durable_cases = 0;
  for (int budget = 0; budget < 14; ++budget) {
    for (int variant = 0; variant < 6; ++variant) {
      TempDir dir;
      FaultInjectionEnv env;
      LogConfig config;
      config.segment_bytes = 500;
      config.index_interval_bytes = 64;
      std::vector<ReadBatch> before;
      int64_t target;
      bool ok;
      {
        auto log = PartitionLog::open(dir.path(), config, 0, &env);
        fill(*log, rng, 30);
        ASSERT_NO_FATAL_FAILURE(sync_everything(*log, env, dir.path()));
        before = read_all(*log);
        target = static_cast<int64_t>(rng() % static_cast<uint64_t>(log->log_end_offset()));
        env.fail_syncs_after(budget);
        ok = log->truncate_to(Offset(target));
        env.fail_syncs_after(-1);
      }  // crash: the log is dropped without close()
      // The intent record is renamed into place after its contents were
      // synced; the rename is durable once the directory sync after it was.
      // Odd variants keep a random prefix of the directory's pending changes.
      env.drop_unsynced_data(variant % 2 ? rng() | 1 : 0);
      bool intent = std::filesystem::exists(dir.path() / PartitionLog::kTruncateToFile);
      if (ok) {
        EXPECT_FALSE(intent) << "a truncation that succeeded removed its intent durably";
      }
      intent = intent || ok;
      auto log = PartitionLog::open(dir.path(), config, 0, &env);
      EXPECT_FALSE(std::filesystem::exists(dir.path() / PartitionLog::kTruncateToFile));
      // The recovery point never names an offset past the end: the next
      // unclean start would trust, unread, segments rolled after it.
      EXPECT_LE(read_checkpoint(env, dir.path() / PartitionLog::kRecoveryPointFile).value_or(0), log->log_end_offset())
          << "budget " << budget << " variant " << variant;
      auto after = read_all(*log);
      if (intent) {
        ++intent_durable_cases;
        expect_truncated(*log, before, target);
      } else if (after.size() == before.size()) {
        // The truncation never became durable: the log is as it was.
        for (size_t i = 0; i < after.size(); ++i) ASSERT_EQ(after[i].bytes, before[i].bytes);
        EXPECT_EQ(log->epoch_entries(), epochs_of(after));
      } else {
        // It failed only at its last step (the intent's removal): done.
        expect_truncated(*log, before, target);
      }
    }
  }
  EXPECT_GT(intent_durable_cases, 40);
}

// truncate_fully_and_start_at: a follower below its leader's log start.
TEST(TruncateFully, StartsOverEmptyPastTheEndAndAppendsFromThere) {
  TempDir dir;
  std::mt19937 rng(3);
  LogConfig config;
  config.segment_bytes = 500;
  auto log = PartitionLog::open(dir.path(), config, 0);
  fill(*log, rng, 30);
  int64_t end = log->log_end_offset();
  EXPECT_FALSE(log->truncate_fully_and_start_at(Offset(end)));  // not past the end
  EXPECT_EQ(errno, EINVAL);
  ASSERT_TRUE(log->truncate_fully_and_start_at(Offset(end + 100)));
  EXPECT_EQ(log->log_start_offset(), end + 100);
  EXPECT_EQ(log->log_end_offset(), end + 100);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_TRUE(log->epoch_entries().empty());
  EXPECT_TRUE(read_all(*log).empty());
  auto b = make_batch({.records = 3});
  auto r = log->append(b, LeaderEpoch(7), 0);
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.base_offset, end + 100);
  log->close();
  auto reopened = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(reopened->log_start_offset(), end + 100);
  EXPECT_EQ(reopened->log_end_offset(), end + 103);
  EXPECT_EQ(read_all(*reopened).size(), 1u);
}

// A crash at each sync of the operation: the log comes back either as it was
// or empty at the new start, never anything in between.
TEST(TruncateFully, CrashAtEverySyncLeavesTheOldLogOrTheNewStart) {
  std::mt19937 rng(9);
  int started_over = 0;
  for (int budget = 0; budget < 8; ++budget) {
    TempDir dir;
    FaultInjectionEnv env;
    LogConfig config;
    config.segment_bytes = 500;
    std::vector<ReadBatch> before;
    int64_t start;
    {
      auto log = PartitionLog::open(dir.path(), config, 0, &env);
      fill(*log, rng, 30);
      ASSERT_NO_FATAL_FAILURE(sync_everything(*log, env, dir.path()));
      before = read_all(*log);
      start = log->log_end_offset() + 50;
      env.fail_syncs_after(budget);
      (void)log->truncate_fully_and_start_at(Offset(start));
      env.fail_syncs_after(-1);
    }  // crash
    env.drop_unsynced_data();
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    auto after = read_all(*log);
    if (after.empty()) {
      ++started_over;
      EXPECT_EQ(log->log_start_offset(), start);
      EXPECT_EQ(log->log_end_offset(), start);
      EXPECT_TRUE(log->epoch_entries().empty());
    } else {
      ASSERT_EQ(after.size(), before.size());
      for (size_t i = 0; i < after.size(); ++i) ASSERT_EQ(after[i].bytes, before[i].bytes);
      EXPECT_EQ(log->log_start_offset(), 0);
    }
  }
  EXPECT_GT(started_over, 0);
}

}  // namespace
}  // namespace runnel::storage
