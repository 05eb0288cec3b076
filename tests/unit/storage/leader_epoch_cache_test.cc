// The leader epoch cache: its checkpoint codec, Kafka's rules for assign /
// endOffsetFor / truncation, and how PartitionLog keeps it in step with the
// log (appends, reopen, rebuild from batch headers, recovery, DeleteRecords).
#include "storage/leader_epoch_cache.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage/checkpoint.h"
#include "storage/partition_log.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::make_batch;
using testing::TempDir;

EpochEntry E(int32_t epoch, int64_t offset) { return {LeaderEpoch(epoch), Offset(offset)}; }
EpochEndOffset R(int32_t epoch, int64_t offset) { return {LeaderEpoch(epoch), Offset(offset)}; }

TEST(EpochCheckpoint, RoundTripsKafkaTextFormat) {
  std::vector<EpochEntry> entries{E(0, 0), E(2, 10), E(5, 10), E(7, 123456789012)};
  std::string text = encode_epoch_checkpoint(entries);
  EXPECT_EQ(text, "0\n4\n0 0\n2 10\n5 10\n7 123456789012\n");
  EXPECT_EQ(decode_epoch_checkpoint(text), entries);
  EXPECT_EQ(decode_epoch_checkpoint("0\n0\n"), std::vector<EpochEntry>{});
  // Kafka's reader splits on whitespace.
  EXPECT_EQ(decode_epoch_checkpoint("0\n1\n3\t 7\n"), std::vector<EpochEntry>{E(3, 7)});
}

TEST(EpochCheckpoint, RejectsMalformedFiles) {
  for (const char* bad :
       {"", "0", "0\n", "1\n0\n", "0\n1\n", "0\n1\n1 2", "0\n2\n1 2\n", "0\n1\n1 2\n3 4\n", "0\n1\n1\n",
        "0\n1\n1 2 3\n", "0\n1\n-1 2\n", "0\n1\n1 -2\n", "0\n-1\n", "0\n2\n3 5\n2 6\n", "0\n2\n3 5\n4 4\n",
        "0\n1\nx y\n", "0\n99999999999\n1 2\n", "0\n1\n12\n", "0\n1\n1 99999999999999999999\n"})
    EXPECT_FALSE(decode_epoch_checkpoint(bad).has_value()) << bad;
}

TEST(EpochList, AssignFollowsKafkaRules) {
  EpochList l;
  EXPECT_TRUE(l.assign(LeaderEpoch(1), Offset(0)));
  EXPECT_FALSE(l.assign(LeaderEpoch(1), Offset(5)));   // same epoch: its start does not move
  EXPECT_FALSE(l.assign(LeaderEpoch(0), Offset(6)));   // older epoch
  EXPECT_FALSE(l.assign(LeaderEpoch(-1), Offset(6)));  // undefined
  EXPECT_TRUE(l.assign(LeaderEpoch(3), Offset(10)));
  // An epoch that wrote nothing gives way to the next one at the same offset.
  EXPECT_TRUE(l.assign(LeaderEpoch(4), Offset(10)));
  EXPECT_EQ(l.entries(), (std::vector<EpochEntry>{E(1, 0), E(4, 10)}));
  // A newer epoch that starts below existing entries replaces them.
  EXPECT_TRUE(l.assign(LeaderEpoch(6), Offset(5)));
  EXPECT_EQ(l.entries(), (std::vector<EpochEntry>{E(1, 0), E(6, 5)}));
  EXPECT_EQ(l.latest_epoch(), LeaderEpoch(6));
}

TEST(EpochList, EndOffsetForMatchesKafka) {
  EpochList empty;
  EXPECT_TRUE(empty.end_offset_for(LeaderEpoch(0), Offset(0)).undefined());
  EpochList l({E(1, 0), E(3, 10), E(4, 15), E(6, 20)});
  Offset leo(30);
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(6), leo), R(6, 30));  // latest: the log end
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(5), leo), R(4, 20));  // floor epoch, next one's start
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(4), leo), R(4, 20));
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(3), leo), R(3, 15));
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(2), leo), R(1, 10));
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(1), leo), R(1, 10));
  EXPECT_EQ(l.end_offset_for(LeaderEpoch(0), leo), R(0, 0));  // below every epoch: itself, first start
  EXPECT_TRUE(l.end_offset_for(LeaderEpoch(7), leo).undefined());
  EXPECT_TRUE(l.end_offset_for(kUndefinedEpoch, leo).undefined());
}

TEST(EpochList, TruncateFromEndAndStart) {
  EpochList l({E(1, 0), E(3, 10), E(4, 15), E(6, 20)});
  EXPECT_FALSE(l.truncate_from_end(Offset(21)));
  EXPECT_TRUE(l.truncate_from_end(Offset(15)));
  EXPECT_EQ(l.entries(), (std::vector<EpochEntry>{E(1, 0), E(3, 10)}));
  EXPECT_FALSE(l.truncate_from_start(Offset(0)));
  EXPECT_TRUE(l.truncate_from_start(Offset(12)));
  EXPECT_EQ(l.entries(), (std::vector<EpochEntry>{E(3, 12)}));
  EXPECT_TRUE(l.truncate_from_start(Offset(13)));
  EXPECT_EQ(l.entries(), (std::vector<EpochEntry>{E(3, 13)}));
  EpochList m({E(1, 0), E(3, 10)});
  EXPECT_TRUE(m.truncate_from_start(Offset(10)));
  EXPECT_EQ(m.entries(), (std::vector<EpochEntry>{E(3, 10)}));
}

TEST(LeaderEpochCache, PersistsEveryChange) {
  TempDir dir;
  LeaderEpochCache cache(Env::posix(), dir.path());
  EXPECT_FALSE(cache.load());
  ASSERT_TRUE(cache.assign(LeaderEpoch(2), Offset(0)));
  ASSERT_TRUE(cache.assign(LeaderEpoch(5), Offset(7)));
  LeaderEpochCache again(Env::posix(), dir.path());
  ASSERT_TRUE(again.load());
  EXPECT_EQ(again.entries(), (std::vector<EpochEntry>{E(2, 0), E(5, 7)}));
  ASSERT_TRUE(again.truncate_from_end(Offset(7)));
  LeaderEpochCache third(Env::posix(), dir.path());
  ASSERT_TRUE(third.load());
  EXPECT_EQ(third.entries(), (std::vector<EpochEntry>{E(2, 0)}));
}

void append_epoch(PartitionLog& log, int32_t epoch, int records = 2) {
  auto b = make_batch({.records = records});
  ASSERT_EQ(log.append(b, LeaderEpoch(epoch), 0).error, ErrorCode::NONE);
}

std::filesystem::path epoch_file(const TempDir& dir) { return dir.path() / LeaderEpochCache::kFileName; }

TEST(PartitionLogEpochs, AppendsRecordEpochsAndAnswerEndOffsets) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 300;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    EXPECT_FALSE(log->latest_epoch().has_value());
    EXPECT_FALSE(std::filesystem::exists(epoch_file(dir)));  // nothing to record yet
    append_epoch(*log, 0);
    append_epoch(*log, 0);
    append_epoch(*log, 2);
    append_epoch(*log, 5);
    append_epoch(*log, 5);
    EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(0, 0), E(2, 4), E(5, 6)}));
    EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch(5)), R(5, 10));
    EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch(3)), R(2, 6));
    EXPECT_GT(log->segment_count(), 1u);
    log->close();
  }
  std::ifstream in(epoch_file(dir));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "0\n3\n0 0\n2 4\n5 6\n");
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(0, 0), E(2, 4), E(5, 6)}));
}

TEST(PartitionLogEpochs, MissingOrCorruptFileIsRebuiltFromBatchHeaders) {
  for (bool corrupt : {false, true}) {
    TempDir dir;
    LogConfig config;
    config.segment_bytes = 300;
    {
      auto log = PartitionLog::open(dir.path(), config, 0);
      for (int epoch : {1, 1, 4, 4, 4, 9}) append_epoch(*log, epoch);
      log->close();
    }
    if (corrupt) {
      std::ofstream(epoch_file(dir), std::ios::trunc) << "0\n3\n1 0\n4";
    } else {
      std::filesystem::remove(epoch_file(dir));
    }
    auto log = PartitionLog::open(dir.path(), config, 0);
    EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(1, 0), E(4, 4), E(9, 10)})) << corrupt;
    auto text = [&] {
      std::ifstream in(epoch_file(dir));
      return std::string((std::istreambuf_iterator<char>(in)), {});
    }();
    EXPECT_EQ(text, "0\n3\n1 0\n4 4\n9 10\n");
  }
}

TEST(PartitionLogEpochs, TornTailRecoveryTruncatesTheCache) {
  TempDir dir;
  std::filesystem::path active;
  {
    auto log = PartitionLog::open(dir.path(), {}, 0);
    append_epoch(*log, 1);
    append_epoch(*log, 3);
    append_epoch(*log, 3);
    append_epoch(*log, 7);  // its entry is written before the batch: then the batch is torn
    EXPECT_EQ(log->latest_epoch(), LeaderEpoch(7));
  }  // unclean stop
  auto log_file = dir.path() / "00000000000000000000.log";
  std::filesystem::resize_file(log_file, std::filesystem::file_size(log_file) - 5);
  auto log = PartitionLog::open(dir.path(), {}, 0);
  EXPECT_TRUE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 6);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(1, 0), E(3, 2)}));
  EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch(3)), R(3, 6));
  EXPECT_TRUE(log->end_offset_for_epoch(LeaderEpoch(7)).undefined());
}

TEST(PartitionLogEpochs, DeleteRecordsAndRetentionAdvanceTheStart) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 300;
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int epoch : {1, 1, 2, 2, 3, 3}) append_epoch(*log, epoch);
  EXPECT_EQ(log->delete_records_before(5), 5);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(2, 5), E(3, 8)}));
  log->close();
  auto again = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(again->epoch_entries(), (std::vector<EpochEntry>{E(2, 5), E(3, 8)}));
}

// A crash between DeleteRecords' checkpoint and its segment deletions: the
// next open deletes them and trims the cache to the start.
TEST(PartitionLogEpochs, StartCheckpointAheadOfTheSegmentsAtOpen) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 300;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int epoch : {1, 1, 2, 2, 3, 3}) append_epoch(*log, epoch);
    ASSERT_GE(log->segment_count(), 2u);
    log->close();
  }
  ASSERT_TRUE(write_checkpoint(*Env::posix(), dir.path() / PartitionLog::kLogStartOffsetFile, 9));
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(log->log_start_offset(), 9);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{E(3, 9)}));
}

}  // namespace
}  // namespace runnel::storage
