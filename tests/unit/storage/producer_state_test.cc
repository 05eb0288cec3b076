// Idempotent producers: the sequence and epoch rules (Kafka's
// ProducerAppendInfo, KIP-98 / KIP-360) checked through PartitionLog::append
// against a trivial oracle that keeps every batch ever appended, with
// reopens (clean and unclean) and segment rolls in between, so that the
// snapshots and the log replay are checked too.
#include "storage/producer_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>

#include "protocol/record_batch.h"
#include "storage/partition_log.h"
#include "storage/segment.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::BatchSpec;
using testing::make_batch;
using testing::TempDir;

constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

int32_t next_seq(int32_t last) { return last == kMaxSeq ? 0 : last + 1; }

AppendResult produce(PartitionLog& log, int64_t pid, int16_t epoch, int32_t seq, int records, int64_t ts = 5000) {
  auto b = make_batch(
      {.records = records, .base_timestamp = ts, .producer_id = pid, .producer_epoch = epoch, .base_sequence = seq});
  return log.append(b, LeaderEpoch(0), ts);
}

// The oracle: every batch each producer appended, in order.
struct OracleBatch {
  int16_t epoch;
  int32_t first_seq, last_seq;
  int64_t first_offset, last_offset;
};
struct Expected {
  ErrorCode error = ErrorCode::NONE;
  std::optional<OracleBatch> duplicate;
};
struct Oracle {
  std::map<int64_t, std::vector<OracleBatch>> history;

  Expected expect(int64_t pid, int16_t epoch, int32_t first, int32_t last) const {
    auto it = history.find(pid);
    if (it == history.end()) return {};  // unknown producer: anything goes (KIP-360)
    const auto& h = it->second;
    int16_t current = h.back().epoch;
    // The last five batches of the current epoch.
    int seen = 0;
    for (auto b = h.rbegin(); b != h.rend() && b->epoch == current && seen < 5; ++b, ++seen)
      if (epoch == current && b->first_seq == first && b->last_seq == last) return {ErrorCode::NONE, *b};
    if (epoch < current) return {ErrorCode::INVALID_PRODUCER_EPOCH, {}};
    if (epoch > current) return {first == 0 ? ErrorCode::NONE : ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, {}};
    return {first == next_seq(h.back().last_seq) ? ErrorCode::NONE : ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, {}};
  }
};

TEST(ProducerState, LastSequenceWraps) {
  EXPECT_EQ(last_sequence(0, 0), 0);
  EXPECT_EQ(last_sequence(5, 4), 9);
  EXPECT_EQ(last_sequence(kMaxSeq, 0), kMaxSeq);
  EXPECT_EQ(last_sequence(kMaxSeq, 1), 0);
  EXPECT_EQ(last_sequence(kMaxSeq - 1, 3), 1);
}

TEST(ProducerState, Rules) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  // A new producer may start anywhere (KIP-360), e.g. after its state expired.
  auto r = produce(*log, 7, 0, 10, 3);
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.base_offset, 0);
  EXPECT_EQ(produce(*log, 7, 0, 13, 2).base_offset, 3);
  // A retry of either batch: the original offsets, nothing appended.
  auto dup = produce(*log, 7, 0, 10, 3);
  EXPECT_EQ(dup.error, ErrorCode::NONE);
  EXPECT_EQ(dup.base_offset, 0);
  EXPECT_EQ(dup.last_offset, 2);
  EXPECT_EQ(log->log_end_offset(), 5);
  // A gap, or a sequence from the past that is no retry.
  EXPECT_EQ(produce(*log, 7, 0, 16, 1).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(produce(*log, 7, 0, 11, 1).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  // A new epoch starts at 0; an older one is refused.
  EXPECT_EQ(produce(*log, 7, 1, 15, 1).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(produce(*log, 7, 1, 0, 1).error, ErrorCode::NONE);
  EXPECT_EQ(produce(*log, 7, 0, 15, 1).error, ErrorCode::INVALID_PRODUCER_EPOCH);
  // The old epoch's batches are no longer duplicates.
  EXPECT_EQ(produce(*log, 7, 0, 10, 3).error, ErrorCode::INVALID_PRODUCER_EPOCH);
  // Wrap-around at INT32_MAX.
  EXPECT_EQ(produce(*log, 8, 0, kMaxSeq - 1, 2).error, ErrorCode::NONE);
  EXPECT_EQ(produce(*log, 8, 0, 0, 1).error, ErrorCode::NONE);
  EXPECT_EQ(produce(*log, 9, 0, kMaxSeq, 2).error, ErrorCode::NONE);  // seqs MAX, 0
  EXPECT_EQ(produce(*log, 9, 0, 1, 1).error, ErrorCode::NONE);
  // Non-idempotent batches are not checked.
  auto plain = make_batch({.records = 1});
  EXPECT_EQ(log->append(plain, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
}

TEST(ProducerState, OnlyTheLastFiveBatchesAreDuplicates) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(produce(*log, 1, 0, i, 1).error, ErrorCode::NONE);
  EXPECT_EQ(produce(*log, 1, 0, 1, 1).base_offset, 1);  // 5th from last: a duplicate
  EXPECT_EQ(produce(*log, 1, 0, 0, 1).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

TEST(ProducerState, SnapshotRoundTripAndCorruption) {
  ProducerStateTable t;
  t.record(1, 0, 0, 4, 0, 4, 100);
  t.record(1, 0, 5, 5, 7, 7, 101);
  t.record(99, 3, kMaxSeq, 0, 8, 9, 102);
  auto bytes = t.encode();
  auto back = ProducerStateTable::decode(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= 0x40;
    EXPECT_FALSE(ProducerStateTable::decode(bad)) << i;
  }
  EXPECT_FALSE(ProducerStateTable::decode(std::span(bytes).first(bytes.size() - 1)));
  EXPECT_TRUE(ProducerStateTable::decode(ProducerStateTable{}.encode()));
}

TEST(ProducerState, FollowerAppendsAndTruncationKeepTheState) {
  TempDir leader_dir, follower_dir;
  auto leader = PartitionLog::open(leader_dir.path(), {}, 0);
  auto follower = PartitionLog::open(follower_dir.path(), {}, 0);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(produce(*leader, 5, 2, i * 2, 2).error, ErrorCode::NONE);
  for (const auto& b : testing::read_all(*leader))
    ASSERT_EQ(follower->append_replicated(b.bytes, 5000).error, ErrorCode::NONE);
  EXPECT_EQ(follower->producer_state(), leader->producer_state());
  // Cut the last two batches: the follower forgets them.
  ASSERT_TRUE(follower->truncate_to(Offset(4)));
  const ProducerEntry* e = follower->producer_state().find(5);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->batches.back().last_seq, 3);
  EXPECT_EQ(e->batches.back().last_offset, 3);
  // And takes the next sequence after them as the next in order.
  EXPECT_EQ(produce(*follower, 5, 2, 4, 1).error, ErrorCode::NONE);
}

std::vector<std::string> snapshots(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().extension() == ".snapshot") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ProducerState, SnapshotsAtRollAndCloseAndForOldLogs) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 300;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int i = 0; i < 6; ++i) ASSERT_EQ(produce(*log, 3, 0, i, 1).error, ErrorCode::NONE);
    ASSERT_GT(log->segment_count(), 1u);
    auto at_roll = snapshots(dir);
    ASSERT_FALSE(at_roll.empty());
    EXPECT_EQ(at_roll.back(), Segment::file_stem(log->segment_base_offsets().back()) + ".snapshot");
    log->close();
  }
  EXPECT_EQ(snapshots(dir).back(), "00000000000000000006.snapshot");
  // A log without any snapshot (as written before they existed): rebuilt
  // from the last segments, and a snapshot written so the next start need not.
  for (const auto& name : snapshots(dir)) std::filesystem::remove(dir.path() / name);
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    const ProducerEntry* e = log->producer_state().find(3);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->batches.back().last_seq, 5);
    EXPECT_EQ(produce(*log, 3, 0, 5, 1).base_offset, 5);  // a duplicate
    EXPECT_EQ(snapshots(dir), std::vector<std::string>{"00000000000000000006.snapshot"});
  }
  // A torn newest snapshot: an older one or the log stands in.
  {
    std::ofstream(dir.path() / "00000000000000000006.snapshot", std::ios::trunc) << "torn";
    auto log = PartitionLog::open(dir.path(), config, 0);
    EXPECT_EQ(produce(*log, 3, 0, 5, 1).base_offset, 5);
    EXPECT_EQ(produce(*log, 3, 0, 7, 1).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  }
}

TEST(ProducerState, ExpiredProducersAreForgotten) {
  TempDir dir;
  LogConfig config;
  config.producer_id_expiration_ms = 1000;
  auto log = PartitionLog::open(dir.path(), config, 0);
  ASSERT_EQ(produce(*log, 4, 0, 0, 1, 5000).error, ErrorCode::NONE);
  log->enforce_retention(5500);
  EXPECT_EQ(produce(*log, 4, 0, 7, 1, 5500).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  log->enforce_retention(7000);
  EXPECT_EQ(log->producer_state().find(4), nullptr);
  // Unknown again: any sequence is taken (KIP-360).
  EXPECT_EQ(produce(*log, 4, 0, 7, 1, 7000).error, ErrorCode::NONE);
}

// Random produce attempts by a few producers against the oracle, with
// rolls (small segments), clean and unclean reopens.
TEST(ProducerState, RandomAgainstOracle) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    TempDir dir;
    LogConfig config;
    config.segment_bytes = 600;
    auto log = PartitionLog::open(dir.path(), config, 0);
    Oracle oracle;
    std::map<int64_t, int16_t> epoch;
    std::map<int64_t, int32_t> seq;  // next sequence each producer would send
    for (int step = 0; step < 400; ++step) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      int op = static_cast<int>(rng() % 100);
      if (op < 3) {
        log->close();
        log = PartitionLog::open(dir.path(), config, 0);
        continue;
      }
      if (op < 6) {
        log.reset();  // unclean: no close
        log = PartitionLog::open(dir.path(), config, 0);
        continue;
      }
      int64_t pid = static_cast<int64_t>(rng() % 3);
      int records = 1 + static_cast<int>(rng() % 3);
      int16_t e = epoch[pid];
      int32_t first = seq.contains(pid) ? seq[pid] : static_cast<int32_t>(rng() % 2 ? 0 : kMaxSeq - 1);
      int kind = static_cast<int>(rng() % 10);
      if (kind == 0 && oracle.history.contains(pid)) {  // a retry of a recent batch
        const auto& h = oracle.history[pid];
        const auto& b = h[h.size() - 1 - rng() % std::min<size_t>(h.size(), 7)];
        e = b.epoch;
        first = b.first_seq;
        records = static_cast<int>(b.last_offset - b.first_offset) + 1;
      } else if (kind == 1) {
        first = last_sequence(first, 1 + static_cast<int32_t>(rng() % 3));  // a gap
      } else if (kind == 2 && e > 0) {
        e = static_cast<int16_t>(e - 1);  // a zombie
      } else if (kind == 3) {
        e = static_cast<int16_t>(e + 1);  // a bump
        first = rng() % 2 ? 0 : 3;
      }
      int32_t last = last_sequence(first, records - 1);
      auto want = oracle.expect(pid, e, first, last);
      int64_t end = log->log_end_offset();
      auto got = produce(*log, pid, e, first, records);
      ASSERT_EQ(got.error, want.error) << "pid " << pid << " epoch " << e << " seq " << first;
      if (want.duplicate) {
        EXPECT_EQ(got.base_offset, want.duplicate->first_offset);
        EXPECT_EQ(got.last_offset, want.duplicate->last_offset);
        EXPECT_EQ(log->log_end_offset(), end);
      } else if (want.error == ErrorCode::NONE) {
        EXPECT_EQ(got.base_offset, end);
        oracle.history[pid].push_back({e, first, last, got.base_offset, got.last_offset});
        epoch[pid] = e;
        seq[pid] = next_seq(last);
      } else {
        EXPECT_EQ(log->log_end_offset(), end);
      }
    }
    EXPECT_GT(log->segment_count(), 2u);
  }
}

}  // namespace
}  // namespace runnel::storage
