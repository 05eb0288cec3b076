// The log cleaner (storage/log_cleaner.h) on real partition logs: keyed
// updates keep only their latest value, tombstones and transaction markers
// go once delete.retention.ms has passed, aborted transactions go, compressed
// batches keep their codec, readers keep the files they were handed, a
// swap is refused when the log changed, a crash at any step of a swap is
// completed or undone at open(), and a follower takes the gaps compaction
// leaves.
#include "storage/log_cleaner.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "protocol/compressor.h"
#include "protocol/control_record.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"
#include "storage/offset_map.h"
#include "storage/partition_log.h"
#include "storage/segment.h"
#include "storage/segment_swap.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::TempDir;

constexpr int16_t kTransactional = 0x10;
constexpr int16_t kDeleteHorizon = 0x40;

struct Rec {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// One batch of keyed records (as a client sends it), in `codec`.
std::vector<uint8_t> keyed_batch(const std::vector<Rec>& recs, int64_t ts, int codec = 0, int64_t pid = -1,
                                 int16_t epoch = -1, int32_t seq = -1, bool txn = false) {
  std::vector<protocol::Record> records;
  for (const auto& r : recs) {
    protocol::Record rec;
    rec.key = bytes_of(r.key);
    if (r.value) rec.value = bytes_of(*r.value);
    records.push_back(std::move(rec));
  }
  auto b = protocol::build_record_batch(records, ts);
  store_be16(b.data() + 21, static_cast<uint16_t>(txn ? kTransactional : 0));
  store_be64(b.data() + 43, static_cast<uint64_t>(pid));
  store_be16(b.data() + 51, static_cast<uint16_t>(epoch));
  store_be32(b.data() + 53, static_cast<uint32_t>(seq));
  testing::fix_crc(b);
  if (codec == 0) return b;
  std::vector<uint8_t> body(b.begin() + protocol::kBatchHeaderSize, b.end());
  return protocol::recompress_batch(b, body, codec, protocol::default_compression_level(codec));
}

struct Seen {
  int64_t offset;
  std::string key;
  std::optional<std::string> value;
};

class CleanerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.compact = true;
    config.cleanup_delete = false;
    config.segment_bytes = 600;
    config.index_interval_bytes = 64;
    config.min_cleanable_dirty_ratio = 0;
    config.delete_retention_ms = 1000;
    reopen();
  }
  void reopen() {
    log.reset();
    log = PartitionLog::open(tmp.path(), config, now);
  }
  void produce(const std::vector<Rec>& recs, int codec = 0, int64_t pid = -1, int16_t epoch = -1, int32_t seq = -1,
               bool txn = false) {
    auto b = keyed_batch(recs, now, codec, pid, epoch, seq, txn);
    auto r = log->append(b, LeaderEpoch(0), now);
    ASSERT_EQ(r.error, ErrorCode::NONE) << r.error_message;
    for (const auto& rec : recs) latest[rec.key] = rec.value;
  }
  void marker(int64_t pid, int16_t epoch, bool commit) {
    auto r = log->append_txn_marker(pid, epoch, protocol::TxnMarker{commit, 0}, LeaderEpoch(0), now);
    ASSERT_EQ(r.error, ErrorCode::NONE);
  }
  void filler(int n) {
    for (int i = 0; i < n; ++i) produce({{"filler-" + std::to_string(fillers++), "x"}});
  }
  // What the flusher does: everything synced, the recovery point moves.
  void flush() {
    auto req = log->sync_handles();
    for (auto& f : req.files) {
      if (f) {
        ASSERT_TRUE(Env::posix()->sync(*f));
      }
    }
    log->mark_flushed(req.durable_offset, req.sealed_below);
  }
  CleanResult clean(const LogCleaner::SwapFn& swap = nullptr) {
    flush();
    auto plan = log->plan_cleaning(now, log->log_end_offset());
    if (!plan) return {};
    OffsetMap map(4096);
    LogCleaner cleaner(Env::posix(), &map);
    LogCleaner::SwapFn fn = swap;
    if (!fn) fn = [&](const CleanedGroup& g) { return log->swap_cleaned(g); };
    auto result = cleaner.clean(*plan, fn);
    if (result.ok) log->cleaning_done(result.cleaned_through, result.next_horizon_ms);
    return result;
  }
  std::vector<testing::ReadBatch> batches() { return testing::read_all(*log); }
  std::vector<Seen> records() {
    std::vector<Seen> out;
    for (const auto& b : batches()) {
      if (protocol::BatchView(b.bytes).is_control()) continue;
      for (auto& r : protocol::decode_record_batch(b.bytes)) {
        std::optional<std::string> value;
        if (r.value) value = std::string(r.value->begin(), r.value->end());
        out.push_back({r.offset, std::string(r.key->begin(), r.key->end()), value});
      }
    }
    return out;
  }
  // The latest record of every key is there, nothing older below the
  // active segment (unless `partly`: some segments may not be cleaned),
  // offsets increasing.
  void expect_compacted(bool partly = false) {
    auto seen = records();
    std::map<std::string, std::optional<std::string>> last;
    std::map<std::string, int> below_active;
    int64_t previous = -1;
    const int64_t active_base = log->segment_base_offsets().back();
    for (const auto& s : seen) {
      EXPECT_GT(s.offset, previous);
      previous = s.offset;
      last[s.key] = s.value;
      if (s.offset < active_base) ++below_active[s.key];
    }
    for (const auto& [key, value] : latest) {
      if (!value && !last.contains(key)) continue;  // a tombstone gone after its horizon
      ASSERT_TRUE(last.contains(key)) << key;
      EXPECT_EQ(last[key], value) << key;
    }
    if (partly) return;
    for (const auto& [key, n] : below_active) EXPECT_EQ(n, 1) << key;
  }
  size_t control_batches() {
    size_t n = 0;
    for (const auto& b : batches()) n += protocol::BatchView(b.bytes).is_control();
    return n;
  }

  TempDir tmp;
  LogConfig config;
  int64_t now = 1'000'000;
  std::unique_ptr<PartitionLog> log;
  std::map<std::string, std::optional<std::string>> latest;
  int fillers = 0;
};

TEST(OffsetMap, PutGetAndFull) {
  OffsetMap map(32);
  EXPECT_EQ(map.get(bytes_of("a")), -1);
  EXPECT_TRUE(map.put(bytes_of("a"), 5));
  EXPECT_TRUE(map.put(bytes_of("a"), 9));
  EXPECT_TRUE(map.put(bytes_of("a"), 7));  // an older offset never wins
  EXPECT_EQ(map.get(bytes_of("a")), 9);
  EXPECT_EQ(map.get(bytes_of("")), -1);
  EXPECT_TRUE(map.put(bytes_of(""), 1));
  EXPECT_EQ(map.get(bytes_of("")), 1);
  int put = 2;
  while (map.put(bytes_of("key-" + std::to_string(put)), put)) ++put;
  EXPECT_TRUE(map.full());
  EXPECT_EQ(map.size(), static_cast<size_t>(32 * OffsetMap::kLoadFactor));
  for (int i = 2; i < put; ++i) EXPECT_EQ(map.get(bytes_of("key-" + std::to_string(i))), i);
  EXPECT_TRUE(map.put(bytes_of("a"), 10));  // a known key still updates when full
  map.clear();
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.get(bytes_of("a")), -1);
}

TEST_F(CleanerTest, KeepsTheLatestValueOfEveryKey) {
  for (int i = 0; i < 60; ++i) produce({{"k" + std::to_string(i % 7), "v" + std::to_string(i)}});
  filler(3);
  ASSERT_GT(log->segment_count(), 3u);
  uint64_t before = log->size_bytes();
  auto r = clean();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.stats.groups_swapped, 0u);
  EXPECT_LT(log->size_bytes(), before);
  expect_compacted();
  // Nothing dirty is left: no new round is due.
  EXPECT_FALSE(log->plan_cleaning(now, log->log_end_offset()));
  // Both kinds of restart read the same log back.
  auto expected = records();
  log->close();
  reopen();
  EXPECT_EQ(records().size(), expected.size());
  expect_compacted();
  log.reset();  // unclean
  reopen();
  EXPECT_EQ(records().size(), expected.size());
  expect_compacted();
  // Writes continue, and a second round cleans the new dirt.
  for (int i = 0; i < 30; ++i) produce({{"k" + std::to_string(i % 7), "w" + std::to_string(i)}});
  filler(3);
  ASSERT_TRUE(clean().ok);
  expect_compacted();
}

TEST_F(CleanerTest, TombstonesStayUntilDeleteRetentionHasPassed) {
  produce({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  produce({{"b", std::nullopt}});
  filler(12);
  ASSERT_TRUE(clean().ok);
  expect_compacted();
  bool tombstone = false;
  for (const auto& b : batches()) {
    for (auto& r : protocol::decode_record_batch(b.bytes)) {
      if (r.key != bytes_of("b")) continue;
      EXPECT_FALSE(r.value);
      EXPECT_EQ(r.timestamp, now);  // rebased on the horizon, the record's own time kept
      protocol::BatchView v(b.bytes);
      EXPECT_TRUE(v.attributes() & kDeleteHorizon);
      EXPECT_EQ(v.base_timestamp(), now + config.delete_retention_ms);
      tombstone = true;
    }
  }
  EXPECT_TRUE(tombstone);
  // Before the horizon nothing is due; after it a round drops the tombstone.
  EXPECT_FALSE(log->plan_cleaning(now + 500, log->log_end_offset()));
  now += 2000;
  ASSERT_TRUE(clean().ok);
  for (const auto& s : records()) EXPECT_NE(s.key, "b");
  EXPECT_EQ(records().front().key, "a");
}

TEST_F(CleanerTest, CompressedBatchesKeepTheirCodec) {
  for (int codec = 1; codec <= 4; ++codec) {
    SCOPED_TRACE(codec);
    TempDir dir;
    log = PartitionLog::open(dir.path(), config, now);
    latest.clear();
    for (int i = 0; i < 30; ++i)
      produce({{"k" + std::to_string(i % 3), "v" + std::to_string(i)}, {"u" + std::to_string(i), "unique"}}, codec);
    filler(8);
    ASSERT_TRUE(clean().ok);
    expect_compacted();
    for (const auto& b : batches()) {
      protocol::BatchView v(b.bytes);
      EXPECT_EQ(protocol::validate_batch(b.bytes, protocol::BatchOrigin::Replication), ErrorCode::NONE);
      if (v.record_count() > 0 && v.base_offset() < 60) {
        EXPECT_EQ(v.compression_id(), codec);
      }
    }
    log.reset();
  }
}

TEST_F(CleanerTest, AbortedTransactionsAndMarkers) {
  produce({{"x", "aborted"}}, 0, 1, 0, 0, true);
  marker(1, 0, /*commit=*/false);
  produce({{"y", "committed"}}, 0, 2, 0, 0, true);
  marker(2, 0, /*commit=*/true);
  latest.erase("x");
  filler(8);
  produce({{"y", "overwritten"}});
  produce({{"z", "later"}}, 0, 1, 0, 1, true);
  marker(1, 0, true);
  produce({{"w", "later"}}, 0, 2, 0, 1, true);
  marker(2, 0, true);
  filler(8);
  ASSERT_EQ(log->aborted_transactions(0, log->log_end_offset()).size(), 1u);

  // 1: the aborted record and the overwritten committed one go; the ABORT
  // marker stays (its data went only now), the first COMMIT too.
  ASSERT_TRUE(clean().ok);
  expect_compacted();
  for (const auto& s : records()) EXPECT_NE(s.key, "x");
  EXPECT_EQ(control_batches(), 4u);
  EXPECT_EQ(log->aborted_transactions(0, log->log_end_offset()).size(), 1u);

  // 2: new dirt calls for a round; the markers of the two emptied
  // transactions get their delete horizon.
  filler(8);
  ASSERT_TRUE(clean().ok);
  EXPECT_EQ(control_batches(), 4u);
  int horizons = 0;
  for (const auto& b : batches()) {
    protocol::BatchView v(b.bytes);
    if (v.is_control() && (v.attributes() & kDeleteHorizon)) ++horizons;
  }
  EXPECT_EQ(horizons, 2);
  EXPECT_TRUE(log->aborted_transactions(0, log->log_end_offset()).empty());

  // 3: past the horizon they go; the markers of live data stay.
  now += 2000;
  ASSERT_TRUE(clean().ok);
  EXPECT_EQ(control_batches(), 2u);
  expect_compacted();
  // The producer state survives a restart that replays the cleaned log.
  log->close();
  reopen();
  EXPECT_NE(log->producer_state().find(1), nullptr);
  EXPECT_NE(log->producer_state().find(2), nullptr);
}

TEST_F(CleanerTest, TheLastBatchOfAnActiveProducerIsKeptEmpty) {
  produce({{"p", "1"}}, 0, 7, 0, 0);
  produce({{"p", "2"}}, 0, 8, 0, 0);  // supersedes producer 7's only record
  filler(10);
  ASSERT_TRUE(clean().ok);
  bool empty_kept = false;
  for (const auto& b : batches()) {
    protocol::BatchView v(b.bytes);
    if (v.producer_id() != 7) continue;
    EXPECT_EQ(v.record_count(), 0);
    EXPECT_EQ(v.base_sequence(), 0);
    EXPECT_EQ(v.last_offset(), 0);
    empty_kept = true;
  }
  EXPECT_TRUE(empty_kept);
  expect_compacted();
  // Its sequence state is intact: the next batch continues at 1.
  auto next = keyed_batch({{"p", "3"}}, now, 0, 7, 0, 1);
  auto r = log->append(next, LeaderEpoch(0), now);
  EXPECT_EQ(r.error, ErrorCode::NONE);
}

TEST_F(CleanerTest, ReadersKeepTheFilesTheyWereGiven) {
  for (int i = 0; i < 40; ++i) produce({{"k" + std::to_string(i % 3), "v" + std::to_string(i)}});
  filler(3);
  auto before = log->read(0, UINT64_MAX, true, log->log_end_offset());
  auto old_batches = testing::read_batches(before);
  ASSERT_TRUE(clean().ok);
  // The slices handed out before the swap still read the old bytes.
  auto again = testing::read_batches(before);
  ASSERT_EQ(again.size(), old_batches.size());
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].bytes, old_batches[i].bytes);
  EXPECT_LT(batches().size(), old_batches.size());
}

TEST_F(CleanerTest, SwapIsRefusedWhenTheLogChanged) {
  for (int i = 0; i < 40; ++i) produce({{"k" + std::to_string(i % 3), "v" + std::to_string(i)}});
  filler(3);
  flush();
  auto plan = log->plan_cleaning(now, log->log_end_offset());
  ASSERT_TRUE(plan);
  // DeleteRecords takes the first segment away meanwhile.
  log->delete_records_before(plan->segments[1].base_offset);
  auto expected = records();
  OffsetMap map(4096);
  LogCleaner cleaner(Env::posix(), &map);
  auto r = cleaner.clean(*plan, [&](const CleanedGroup& g) { return log->swap_cleaned(g); });
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.permanent);
  EXPECT_EQ(records().size(), expected.size());
  for (const auto& name : Env::posix()->list(tmp.path()))
    EXPECT_FALSE(name.ends_with(kCleanedSuffix) || name.ends_with(kSwapSuffix)) << name;
  // A plan of another log (a partition dropped and made again) is refused too.
  CleanedGroup stranger{tmp.path(), log->id() + 1000, {{0, 1, 1}}, 0, {}};
  EXPECT_EQ(log->swap_cleaned(stranger), LogCleaner::SwapOutcome::Refused);
}

// A map too small for the dirty section cleans it over several rounds,
// each starting where the previous one's map ended.
TEST_F(CleanerTest, ASmallMapCleansInSeveralRounds) {
  for (int i = 0; i < 200; ++i) produce({{"k" + std::to_string(i % 40), "v" + std::to_string(i)}});
  filler(3);
  flush();
  int rounds = 0;
  while (auto plan = log->plan_cleaning(now, log->log_end_offset())) {
    OffsetMap map(16);  // 14 keys a round
    LogCleaner cleaner(Env::posix(), &map);
    auto r = cleaner.clean(*plan, [&](const CleanedGroup& g) { return log->swap_cleaned(g); });
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_GT(r.cleaned_through, plan->first_dirty);
    log->cleaning_done(r.cleaned_through, r.next_horizon_ms);
    ASSERT_LT(++rounds, 100);
  }
  EXPECT_GT(rounds, 2);
  // Every key's older records went in the round that mapped its newer one.
  expect_compacted();
}

// A follower copies the leader's cleaned batches, offset gaps and all.
TEST_F(CleanerTest, FollowerTakesTheGapsOfACompactedLeader) {
  for (int i = 0; i < 60; ++i) produce({{"k" + std::to_string(i % 4), "v" + std::to_string(i)}});
  filler(3);
  ASSERT_TRUE(clean().ok);
  std::vector<uint8_t> fetched;
  for (const auto& b : batches()) fetched.insert(fetched.end(), b.bytes.begin(), b.bytes.end());
  TempDir dir;
  auto follower = PartitionLog::open(dir.path(), config, now);
  auto r = follower->append_replicated(fetched, now);
  ASSERT_EQ(r.error, ErrorCode::NONE) << r.error_message;
  EXPECT_EQ(follower->log_end_offset(), log->log_end_offset());
  auto copied = testing::read_all(*follower);
  auto original = batches();
  ASSERT_EQ(copied.size(), original.size());
  for (size_t i = 0; i < copied.size(); ++i) EXPECT_EQ(copied[i].bytes, original[i].bytes);
  // Going back below the end is still refused.
  EXPECT_EQ(follower->append_replicated(std::span(original.back().bytes), now).error, ErrorCode::CORRUPT_MESSAGE);
  // And it recovers to the same end after a crash.
  follower.reset();
  follower = PartitionLog::open(dir.path(), config, now);
  EXPECT_EQ(follower->log_end_offset(), log->log_end_offset());
}

// A crash at each step of a swap: before the intent (undone), right after
// it, after the log's rename (both completed). The reopened log is either
// the old one or the cleaned one, never a mix, and holds no leftovers.
TEST_F(CleanerTest, CrashDuringSwapIsCompletedOrUndoneAtOpen) {
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE(step);
    TempDir dir;
    log = PartitionLog::open(dir.path(), config, now);
    latest.clear();
    for (int i = 0; i < 60; ++i) produce({{"k" + std::to_string(i % 5), "v" + std::to_string(i)}});
    filler(3);
    auto old_count = records().size();
    auto r = clean([&](const CleanedGroup& g) {
      const int64_t base = g.replaced.front().base_offset;
      if (step >= 1) {
        EXPECT_TRUE(write_swap_intent(*Env::posix(), g.dir, base, g.end_offset()));
      }
      if (step >= 2) {
        EXPECT_TRUE(Env::posix()->rename(g.dir / (Segment::file_stem(base) + ".log" + kCleanedSuffix),
                                         g.dir / (Segment::file_stem(base) + ".log")));
      }
      return LogCleaner::SwapOutcome::Failed;  // the crash
    });
    EXPECT_FALSE(r.ok);
    log.reset();
    log = PartitionLog::open(dir.path(), config, now);
    for (const auto& name : Env::posix()->list(dir.path()))
      EXPECT_FALSE(name.ends_with(kCleanedSuffix) || name.ends_with(kSwapSuffix)) << name;
    expect_compacted(/*partly=*/true);
    if (step == 0)
      EXPECT_EQ(records().size(), old_count);
    else
      EXPECT_LT(records().size(), old_count);
    log.reset();
  }
}

}  // namespace
}  // namespace runnel::storage
