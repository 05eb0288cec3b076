#include "storage/partition_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>

#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/fault_injection_env.h"
#include "storage/segment.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::BatchSpec;
using testing::make_batch;
using testing::read_all;
using testing::read_batches;
using testing::TempDir;

AppendResult append(PartitionLog& log, const BatchSpec& spec, int64_t now = 5000) {
  auto b = make_batch(spec);
  return log.append(b, LeaderEpoch(3), now);
}

TEST(PartitionLog, AssignsOffsetsAndReadsBack) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  EXPECT_EQ(log->log_end_offset(), 0);
  auto r1 = append(*log, {.records = 3});
  EXPECT_EQ(r1.error, ErrorCode::NONE);
  EXPECT_EQ(r1.base_offset, 0);
  EXPECT_EQ(r1.last_offset, 2);
  EXPECT_EQ(r1.log_append_time, -1);
  auto r2 = append(*log, {.records = 2});
  EXPECT_EQ(r2.base_offset, 3);
  EXPECT_EQ(log->log_end_offset(), 5);
  auto batches = read_all(*log);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].base_offset, 3);
  EXPECT_EQ(protocol::validate_batch(batches[1].bytes), ErrorCode::NONE);
  EXPECT_EQ(protocol::BatchView(batches[1].bytes).partition_leader_epoch(), 3);
  // A read from inside a batch starts at that batch.
  auto from4 = read_batches(log->read(4, 1 << 20, true, 5));
  ASSERT_EQ(from4.size(), 1u);
  EXPECT_EQ(from4[0].base_offset, 3);
  // The end is readable (empty); past it is out of range.
  EXPECT_EQ(log->read(5, 100, true, 5).error, ErrorCode::NONE);
  EXPECT_TRUE(log->read(5, 100, true, 5).slices.empty());
  EXPECT_EQ(log->read(6, 100, true, 5).error, ErrorCode::OFFSET_OUT_OF_RANGE);
  // Nothing at or past the limit.
  EXPECT_EQ(read_batches(log->read(0, 1 << 20, true, 3)).size(), 1u);
}

TEST(PartitionLog, MaxBytesAndMinOne) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  for (int i = 0; i < 5; ++i) append(*log, {.records = 1, .value_size = 100});
  uint64_t one = read_all(*log)[0].bytes.size();
  EXPECT_EQ(read_batches(log->read(0, one * 2 + 1, true, 5)).size(), 2u);
  EXPECT_EQ(read_batches(log->read(0, 10, true, 5)).size(), 1u);
  EXPECT_EQ(read_batches(log->read(0, 10, false, 5)).size(), 0u);
}

TEST(PartitionLog, RejectsBadInputWithoutWriting) {
  TempDir dir;
  LogConfig config;
  config.max_message_bytes = 500;
  auto log = PartitionLog::open(dir.path(), config, 0);
  auto bad = make_batch({.records = 2});
  bad[30] ^= 1;
  EXPECT_EQ(log->append(bad, LeaderEpoch(0), 0).error, ErrorCode::CORRUPT_MESSAGE);
  auto big = make_batch({.records = 1, .value_size = 600});
  EXPECT_EQ(log->append(big, LeaderEpoch(0), 0).error, ErrorCode::MESSAGE_TOO_LARGE);
  // A good batch followed by a bad one: nothing from the request is stored.
  auto good = make_batch();
  good.insert(good.end(), bad.begin(), bad.end());
  EXPECT_EQ(log->append(good, LeaderEpoch(0), 0).error, ErrorCode::CORRUPT_MESSAGE);
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->size_bytes(), 0u);
}

TEST(PartitionLog, MaxTimestampIsTakenFromTheRecords) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  // Timestamps 1000, 1007, 1014, but the producer claims no max timestamp.
  auto b = make_batch({.records = 3, .base_timestamp = 1000, .timestamp_step = 7});
  store_be64(b.data() + 35, static_cast<uint64_t>(-1));
  testing::fix_crc(b);
  ASSERT_EQ(log->append(b, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
  auto stored = read_all(*log);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].max_timestamp, 1014);
  EXPECT_EQ(protocol::validate_batch(stored[0].bytes), ErrorCode::NONE);  // CRC rewritten
  EXPECT_EQ(log->offset_for_timestamp(1010), 0);
  EXPECT_EQ(log->max_timestamp_and_offset(), (std::pair<int64_t, int64_t>{1014, 0}));
  // A header that was right is stored byte for byte as sent (apart from the offset and epoch).
  auto right = make_batch({.records = 2, .base_timestamp = 2000});
  auto sent = right;
  ASSERT_EQ(log->append(right, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
  auto second = read_all(*log)[1].bytes;
  EXPECT_TRUE(std::equal(second.begin() + 16, second.end(), sent.begin() + 16));
}

TEST(PartitionLog, RejectsRecordsThatBreakTheRulesWithoutWriting) {
  TempDir dir;
  LogConfig config;
  config.timestamp_after_max_ms = 1000;
  auto log = PartitionLog::open(dir.path(), config, 0);
  ASSERT_EQ(append(*log, {.records = 1}).error, ErrorCode::NONE);
  auto before = read_all(*log);
  // Two hours in the future.
  auto future = make_batch({.records = 2, .base_timestamp = 5000 + 7'200'000});
  auto r = log->append(future, LeaderEpoch(0), 5000);
  EXPECT_EQ(r.error, ErrorCode::INVALID_TIMESTAMP);
  EXPECT_FALSE(r.error_message.empty());
  ASSERT_EQ(r.record_errors.size(), 2u);
  EXPECT_EQ(r.record_errors[1].batch_index, 1);
  // lastOffsetDelta and the record count agree, but the records say otherwise.
  auto short_batch = make_batch({.records = 3});
  store_be32(short_batch.data() + 23, 3);
  store_be32(short_batch.data() + 57, 4);
  testing::fix_crc(short_batch);
  r = log->append(short_batch, LeaderEpoch(0), 5000);
  EXPECT_EQ(r.error, ErrorCode::INVALID_RECORD);
  EXPECT_FALSE(r.error_message.empty());
  // The topic setting is honoured: with a day allowed, the same batch goes in.
  config.timestamp_after_max_ms = 24 * 3600 * 1000;
  log->set_config(config);
  auto after = read_all(*log);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_EQ(after[0].bytes, before[0].bytes);
  auto again = make_batch({.records = 2, .base_timestamp = 5000 + 7'200'000});
  EXPECT_EQ(log->append(again, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
}

TEST(PartitionLog, TimestampDifferenceMaxMsFillsWhatIsNotSet) {
  LogConfig config;
  EXPECT_EQ(config.effective_timestamp_before_max_ms(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(config.effective_timestamp_after_max_ms(), 3600 * 1000);
  config.timestamp_difference_max_ms = 50;
  EXPECT_EQ(config.effective_timestamp_before_max_ms(), 50);
  EXPECT_EQ(config.effective_timestamp_after_max_ms(), 50);
  config.timestamp_after_max_ms = 70;
  EXPECT_EQ(config.effective_timestamp_before_max_ms(), 50);
  EXPECT_EQ(config.effective_timestamp_after_max_ms(), 70);
}

TEST(PartitionLog, LogAppendTime) {
  TempDir dir;
  LogConfig config;
  config.timestamp_type = TimestampType::LogAppendTime;
  auto log = PartitionLog::open(dir.path(), config, 0);
  auto r = append(*log, {.records = 2, .base_timestamp = 10}, 777);
  EXPECT_EQ(r.log_append_time, 777);
  auto b = read_all(*log);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].max_timestamp, 777);
  EXPECT_TRUE(protocol::BatchView(b[0].bytes).log_append_time());
  EXPECT_EQ(protocol::validate_batch(b[0].bytes), ErrorCode::NONE);
}

TEST(PartitionLog, RollsBySizeAndTime) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 1000;
  config.segment_ms = 100;
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int i = 0; i < 20; ++i) append(*log, {.records = 2, .value_size = 50}, 0);
  EXPECT_GT(log->segment_count(), 3u);
  auto bases = log->segment_base_offsets();
  EXPECT_TRUE(std::filesystem::exists(dir.path() / (Segment::file_stem(bases[1]) + ".log")));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / (Segment::file_stem(bases[1]) + ".index")));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / (Segment::file_stem(bases[1]) + ".timeindex")));
  auto all = read_all(*log);
  ASSERT_EQ(all.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(all[i].base_offset, 2 * i);
  size_t before = log->segment_count();
  log->enforce_retention(50);
  EXPECT_EQ(log->segment_count(), before);
  log->enforce_retention(100);
  EXPECT_EQ(log->segment_count(), before + 1);
  log->enforce_retention(1000);  // the new active segment is empty: no roll
  EXPECT_EQ(log->segment_count(), before + 1);
}

// segment.jitter.ms: each segment rolls by time at segment.ms less a jitter
// drawn below min(segment.jitter.ms, segment.ms), as Kafka does.
TEST(PartitionLog, SegmentJitterRollsSomeSegmentsEarly) {
  LogConfig config;
  config.segment_ms = 1000;
  config.segment_jitter_ms = 5000;  // bounded by segment.ms
  int early = 0;
  for (int i = 0; i < 20; ++i) {
    TempDir dir;
    auto log = PartitionLog::open(dir.path(), config, 0);
    append(*log, {.records = 1}, 0);
    log->enforce_retention(1);  // a jitter of 999 rolls here, 0 never before 1000
    log->enforce_retention(500);
    if (log->segment_count() > 1) ++early;
    log->enforce_retention(999);
    log->enforce_retention(1000);  // never later than segment.ms
    EXPECT_EQ(log->segment_count(), 2u);
  }
  EXPECT_GT(early, 0);  // P(none of 20 before 500 ms) = 2^-20
  // Without jitter no segment rolls before segment.ms.
  config.segment_jitter_ms = 0;
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), config, 0);
  append(*log, {.records = 1}, 0);
  log->enforce_retention(999);
  EXPECT_EQ(log->segment_count(), 1u);
  log->enforce_retention(1000);
  EXPECT_EQ(log->segment_count(), 2u);
}

// segment.index.bytes: the active segment rolls once its offset or time index
// holds that many bytes of entries (12-byte time entries fill first).
TEST(PartitionLog, RollsWhenAnIndexIsFull) {
  TempDir dir;
  LogConfig config;
  config.index_interval_bytes = 1;      // an entry per batch
  config.segment_index_bytes = 5 * 12;  // five time index entries
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int i = 0; i < 30; ++i) append(*log, {.records = 1, .base_timestamp = 1000 + i});
  EXPECT_GE(log->segment_count(), 5u);
  EXPECT_LE(log->segment_count(), 6u);
  auto all = read_all(*log);
  ASSERT_EQ(all.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(all[i].base_offset, i);
  // Reopened, the segments and their indexes still serve every offset.
  log->close();
  log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(read_all(*log).size(), 30u);
  EXPECT_EQ(read_batches(log->read(17, 1, true, 30))[0].base_offset, 17);
}

// preallocate: a new segment's log file has segment.bytes of disk reserved
// but keeps the length of its data, so a crash leaves no zero tail; the
// reservation is released when the segment is sealed.
TEST(PartitionLog, PreallocateReservesAndReleasesSegmentBlocks) {
  auto allocated = [](const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  TempDir dir;
  LogConfig config;
  config.preallocate = true;
  config.segment_bytes = 4 << 20;
  auto log = PartitionLog::open(dir.path(), config, 0);
  append(*log, {.records = 3});
  auto first = dir.path() / (Segment::file_stem(0) + ".log");
  if (allocated(first) < (4u << 20)) GTEST_SKIP() << "the file system does not preallocate";
  EXPECT_EQ(std::filesystem::file_size(first), log->size_bytes());
  // A crash (no close): recovery finds the data and nothing to cut.
  log.reset();
  log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_TRUE(log->recovered_on_open());
  EXPECT_EQ(log->bytes_truncated_on_open(), 0u);
  EXPECT_EQ(log->log_end_offset(), 3);
  append(*log, {.records = 2});
  // Sealed at a clean stop: the unused reservation goes.
  log->close();
  EXPECT_LT(allocated(first), 64u << 10);
  log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_FALSE(log->recovered_on_open());
  EXPECT_EQ(read_all(*log).size(), 2u);
  EXPECT_EQ(log->log_end_offset(), 5);
}

// file.delete.delay.ms: a deleted segment's files are renamed `.deleted` and
// removed once the delay has passed (or by the next open()).
TEST(PartitionLog, DeletedSegmentFilesGoAfterTheDelay) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 1000;
  config.file_delete_delay_ms = 1000;
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int i = 0; i < 40; ++i) append(*log, {.records = 2, .value_size = 50}, 5000);
  auto bases = log->segment_base_offsets();
  ASSERT_GT(bases.size(), 5u);
  auto path = [&](int64_t base, const char* ext) { return dir.path() / (Segment::file_stem(base) + ext); };
  EXPECT_EQ(log->delete_records_before(bases[2]), bases[2]);
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(std::filesystem::exists(path(bases[i], ".log")));
    EXPECT_TRUE(std::filesystem::exists(path(bases[i], ".log.deleted")));
    EXPECT_TRUE(std::filesystem::exists(path(bases[i], ".index.deleted")));
    EXPECT_TRUE(std::filesystem::exists(path(bases[i], ".timeindex.deleted")));
  }
  log->enforce_retention(5999);
  EXPECT_TRUE(std::filesystem::exists(path(bases[0], ".log.deleted")));
  log->enforce_retention(6000);
  EXPECT_FALSE(std::filesystem::exists(path(bases[0], ".log.deleted")));
  EXPECT_FALSE(std::filesystem::exists(path(bases[1], ".timeindex.deleted")));
  EXPECT_EQ(read_all(*log).front().base_offset, bases[2]);
  // Left behind at a stop: the next open() removes them.
  EXPECT_EQ(log->delete_records_before(bases[3]), bases[3]);
  EXPECT_TRUE(std::filesystem::exists(path(bases[2], ".log.deleted")));
  log->close();
  log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_FALSE(std::filesystem::exists(path(bases[2], ".log.deleted")));
  EXPECT_EQ(log->log_start_offset(), bases[3]);
  // 0: removed at once.
  config.file_delete_delay_ms = 0;
  log->set_config(config);
  EXPECT_EQ(log->delete_records_before(bases[4]), bases[4]);
  EXPECT_FALSE(std::filesystem::exists(path(bases[3], ".log.deleted")));
  EXPECT_FALSE(std::filesystem::exists(path(bases[3], ".log")));
}

// The active segment's indexes are not synced per acknowledgement; a rolled
// segment's are, with the snapshot its roll wrote, before the recovery point
// may move past it (to that snapshot's offset, where recovery replays from).
TEST(PartitionLog, SyncsRolledSegmentIndexesBeforeRecoveryPointPassesThem) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 1000;
  auto log = PartitionLog::open(dir.path(), config, 0);
  append(*log, {.records = 2, .value_size = 50});
  auto before_roll = log->sync_handles();
  EXPECT_EQ(before_roll.files.size(), 3u) << "the active segment's log, the directory and its parent: a new "
                                             "partition's first sync makes its files' names and its own durable";
  while (log->segment_count() < 2) append(*log, {.records = 2, .value_size = 50});
  int64_t second_base = log->segment_base_offsets()[1];
  // The request made before the roll completes, covering the whole first
  // segment; it synced no index, so the recovery point must stay behind.
  log->mark_flushed(second_base, before_roll.sealed_below);
  auto recovery_point = [&] { return read_checkpoint(*Env::posix(), dir.path() / PartitionLog::kRecoveryPointFile); };
  EXPECT_LT(recovery_point().value_or(-1), second_base);
  auto after_roll = log->sync_handles();
  EXPECT_EQ(after_roll.files.size(), 6u) << "the rolled segment's three files, the active log, the directory (the "
                                            "new segment's name) and the producer snapshot the roll wrote";
  EXPECT_EQ(after_roll.sealed_below, second_base);
  log->mark_flushed(after_roll.durable_offset, after_roll.sealed_below);
  EXPECT_EQ(recovery_point().value_or(-1), second_base);
  EXPECT_EQ(log->sync_handles().files.size(), 1u) << "a sealed segment, or the directory, is not synced again";
}

TEST(PartitionLog, RetentionBySizeAndTime) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 600;
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int i = 0; i < 30; ++i) append(*log, {.records = 1, .base_timestamp = 1000 + i * 100, .value_size = 200});
  size_t segments = log->segment_count();
  ASSERT_GT(segments, 5u);
  config.retention_ms = 1000;
  log->set_config(config);
  log->enforce_retention(1000 + 10 * 100 + 1000 + 1);  // batches up to ts 1900 have expired
  EXPECT_LT(log->segment_count(), segments);
  EXPECT_GT(log->log_start_offset(), 0);
  EXPECT_EQ(log->log_start_offset(), log->segment_base_offsets()[0]);
  EXPECT_EQ(log->read(0, 100, true, 30).error, ErrorCode::OFFSET_OUT_OF_RANGE);
  config.retention_ms = -1;
  config.retention_bytes = 1000;
  log->set_config(config);
  log->enforce_retention(0);
  EXPECT_LE(log->size_bytes(), 1000u + 600u);
  EXPECT_GE(log->size_bytes() - 0, log->size_bytes());
  config.retention_bytes = 0;
  log->set_config(config);
  log->enforce_retention(0);
  // The active segment went too (Kafka's rule), after a roll: the log is
  // empty at its old end, where the next record goes.
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 30);
  EXPECT_EQ(log->log_end_offset(), 30);
  EXPECT_TRUE(read_all(*log).empty());
  EXPECT_EQ(append(*log, {.records = 1}).base_offset, 30);
}

// Kafka's rule: a segment is deleted by retention only once the high
// watermark has passed its last record, so the log start offset a fetch
// shows never gets ahead of the high watermark.
TEST(PartitionLog, RetentionKeepsSegmentsAtOrAboveTheHighWatermark) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 600;
  config.retention_bytes = 0;
  auto log = PartitionLog::open(dir.path(), config, 0);
  for (int i = 0; i < 30; ++i) append(*log, {.records = 1, .value_size = 200});
  const auto bases = log->segment_base_offsets();
  ASSERT_GT(bases.size(), 4u);
  log->enforce_retention(0, bases[2] - 1);  // inside the second segment
  EXPECT_EQ(log->log_start_offset(), bases[1]);
  log->enforce_retention(0, bases[3]);  // at the fourth's base: the third is done with
  EXPECT_EQ(log->log_start_offset(), bases[3]);
  log->enforce_retention(0, log->log_end_offset() - 1);  // the active segment waits for all its records
  EXPECT_EQ(log->log_start_offset(), bases.back());
  log->enforce_retention(0);  // not replicated: up to the log end, the active segment too
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 30);
}

// A quiet topic's records go after retention.ms, not at the next segment.ms
// roll; the empty segment left is not rolled again. After a power cut right
// after (nothing synced since), the log comes back at its new start, not at
// 0: the new segment's name is durable (made so before the old segment went;
// the leader-epoch-checkpoint's rewrite syncs the directory too).
TEST(PartitionLog, TimeRetentionTakesTheActiveSegmentOfAQuietTopic) {
  TempDir dir;
  FaultInjectionEnv env;
  LogConfig config;
  config.retention_ms = 1000;
  auto log = PartitionLog::open(dir.path(), config, 0, &env);
  for (int i = 0; i < 5; ++i) append(*log, {.records = 2, .base_timestamp = 1000});
  testing::sync_now(*log, env);
  log->enforce_retention(2000);
  EXPECT_EQ(log->log_start_offset(), 0) << "not yet due";
  log->enforce_retention(2002);
  EXPECT_EQ(log->log_start_offset(), 10);
  EXPECT_EQ(log->segment_count(), 1u);
  const auto bases = log->segment_base_offsets();
  log->enforce_retention(100'000);
  EXPECT_EQ(log->segment_base_offsets(), bases) << "an empty active segment is not rolled";
  log.reset();
  env.drop_unsynced_data();
  log = PartitionLog::open(dir.path(), config, 0, &env);
  EXPECT_EQ(log->log_start_offset(), 10);
  EXPECT_EQ(log->log_end_offset(), 10);
}

// A partition made by this run: its directory's own name is made durable
// with its first data, by the flusher's sync and by a clean close alike, so
// a power cut after either keeps what was synced.
TEST(PartitionLog, ANewPartitionsDirectoryOutlivesAPowerCutOnceItsDataIsSynced) {
  for (bool by_close : {false, true}) {
    SCOPED_TRACE(by_close ? "close" : "flusher");
    TempDir data;
    const auto dir = data.path() / "topic-0";
    FaultInjectionEnv env;
    auto log = PartitionLog::open(dir, {}, 0, &env);
    append(*log, {.records = 3});
    if (by_close)
      log->close();
    else
      testing::sync_now(*log, env);
    log.reset();
    env.drop_unsynced_data();
    ASSERT_TRUE(std::filesystem::is_directory(dir));
    log = PartitionLog::open(dir, {}, 0, &env);
    EXPECT_EQ(log->log_end_offset(), 3);
  }
  // Before any sync the directory is as new as its data: both may go.
  TempDir data;
  FaultInjectionEnv env;
  auto log = PartitionLog::open(data.path() / "topic-0", {}, 0, &env);
  append(*log, {.records = 3});
  log.reset();
  env.drop_unsynced_data();
  EXPECT_FALSE(std::filesystem::exists(data.path() / "topic-0"));
}

TEST(PartitionLog, DeleteRecordsPersists) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 500;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int i = 0; i < 20; ++i) append(*log, {.records = 2, .value_size = 100});
    size_t segments = log->segment_count();
    EXPECT_EQ(log->delete_records_before(7), 7);
    EXPECT_EQ(log->delete_records_before(3), 7);  // never back
    EXPECT_LT(log->segment_count(), segments);
    EXPECT_EQ(log->read(6, 100, true, 40).error, ErrorCode::OFFSET_OUT_OF_RANGE);
    auto from7 = read_batches(log->read(7, 1 << 20, true, 40));
    ASSERT_FALSE(from7.empty());
    EXPECT_EQ(from7[0].base_offset, 6);  // the batch containing 7
    log->close();
  }
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    EXPECT_EQ(log->log_start_offset(), 7);
    EXPECT_EQ(log->delete_records_before(1000), 40);  // never past the end
  }
  auto log = PartitionLog::open(dir.path(), config, 0);  // after an unclean stop too
  EXPECT_EQ(log->log_start_offset(), 40);
  EXPECT_EQ(log->log_end_offset(), 40);
  EXPECT_EQ(append(*log, {.records = 1}).base_offset, 40);
}

// A DeleteRecords whose new start cannot be written durably (a full disk)
// changes nothing: a success would be undone by the next start, showing the
// deleted records again.
TEST(PartitionLog, DeleteRecordsThatCannotPersistItsStartChangesNothing) {
  TempDir dir;
  FaultInjectionEnv env;
  LogConfig config;
  config.segment_bytes = 500;
  auto log = PartitionLog::open(dir.path(), config, 0, &env);
  for (int i = 0; i < 20; ++i) append(*log, {.records = 2, .value_size = 100});
  const size_t segments = log->segment_count();
  env.fail_writes_to_files_ending(".tmp");  // the checkpoint's new copy
  EXPECT_EQ(log->delete_records_before(7), 0);
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->segment_count(), segments);
  EXPECT_EQ(read_all(*log).front().base_offset, 0);
  env.fail_writes_to_files_ending("");
  EXPECT_EQ(log->delete_records_before(7), 7);
  log.reset();
  env.drop_unsynced_data();
  log = PartitionLog::open(dir.path(), config, 0, &env);
  EXPECT_EQ(log->log_start_offset(), 7);
}

TEST(PartitionLog, OffsetForTimestamp) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 2000;
  config.index_interval_bytes = 300;
  auto log = PartitionLog::open(dir.path(), config, 0);
  // Batch i holds offsets 3i..3i+2 with timestamps 100i + {0, 10, 20}.
  for (int i = 0; i < 50; ++i) append(*log, {.records = 3, .base_timestamp = 100 * i, .timestamp_step = 10});
  ASSERT_GT(log->segment_count(), 2u);
  auto oracle = [](int64_t ts) -> int64_t {
    for (int i = 0; i < 50; ++i)
      if (100 * i + 20 >= ts) return 3 * i;
    return -1;
  };
  for (int64_t ts = -5; ts < 5100; ts += 7) EXPECT_EQ(log->offset_for_timestamp(ts), oracle(ts)) << ts;
  EXPECT_EQ(log->max_timestamp_and_offset(), (std::pair<int64_t, int64_t>{4920, 147}));
  log->close();
  auto reopened = PartitionLog::open(dir.path(), config, 0);
  for (int64_t ts = -5; ts < 5100; ts += 13) EXPECT_EQ(reopened->offset_for_timestamp(ts), oracle(ts)) << ts;
  EXPECT_EQ(reopened->max_timestamp_and_offset(), (std::pair<int64_t, int64_t>{4920, 147}));
}

TEST(PartitionLog, CleanShutdownStartsWithoutRecovery) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 3000;
  std::vector<testing::ReadBatch> before;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int i = 0; i < 100; ++i) append(*log, {.records = 2, .base_timestamp = i});
    before = read_all(*log);
    log->close();
    EXPECT_TRUE(std::filesystem::exists(dir.path() / PartitionLog::kCleanShutdownFile));
  }
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_FALSE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 200);
  EXPECT_EQ(log->flushed_offset(), 200);
  auto after = read_all(*log);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].bytes, before[i].bytes);
  // Reading changes nothing: the marker stands until the first change, which
  // turns it into the recovery point.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / PartitionLog::kCleanShutdownFile));
  EXPECT_EQ(append(*log, {.records = 1}).base_offset, 200);
  EXPECT_FALSE(read_checkpoint(*Env::posix(), dir.path() / PartitionLog::kCleanShutdownFile)) << "cleared";
  EXPECT_EQ(read_checkpoint(*Env::posix(), dir.path() / PartitionLog::kRecoveryPointFile), 200);
}

// A log not changed since a clean start leaves its files alone at close.
TEST(PartitionLog, UnchangedLogCloseTouchesNothing) {
  TempDir dir;
  {
    auto log = PartitionLog::open(dir.path(), {}, 0);
    append(*log, {.records = 2});
    log->close();
  }
  auto mtime = std::filesystem::last_write_time(dir.path() / PartitionLog::kCleanShutdownFile);
  {
    auto log = PartitionLog::open(dir.path(), {}, 0);
    EXPECT_EQ(read_all(*log).size(), 1u);
    EXPECT_FALSE(log->prepare_shutdown()) << "nothing to do";
  }
  EXPECT_EQ(std::filesystem::last_write_time(dir.path() / PartitionLog::kCleanShutdownFile), mtime);
  auto log = PartitionLog::open(dir.path(), {}, 0);
  EXPECT_FALSE(log->recovered_on_open());
}

// Many logs with many segments through one small descriptor cache: appends,
// reads after eviction, a clean restart that opens only the active segments,
// and reads of the sealed ones opened lazily.
TEST(PartitionLog, ManyLogsShareABoundedFileCache) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 800;
  const int kLogs = 40;
  FileCache cache(Env::posix(), 8);
  std::vector<std::vector<testing::ReadBatch>> before(kLogs);
  {
    std::vector<std::unique_ptr<PartitionLog>> logs;
    for (int i = 0; i < kLogs; ++i)
      logs.push_back(PartitionLog::open(dir.path() / std::to_string(i), config, 0, Env::posix(), &cache));
    for (int round = 0; round < 20; ++round)
      for (auto& log : logs) {
        append(*log, {.records = 2, .base_timestamp = round, .value_size = 100});
        auto req = log->sync_handles();  // as the flusher would, releasing the pin
        for (auto& f : req.files) ASSERT_TRUE(f && Env::posix()->sync(*f));
        log->mark_flushed(req.durable_offset, req.sealed_below);
      }
    EXPECT_LE(cache.open_count(), 8u);
    for (int i = 0; i < kLogs; ++i) {
      EXPECT_GT(logs[i]->segment_count(), 3u);
      before[i] = read_all(*logs[i]);
      ASSERT_EQ(before[i].size(), 20u);
    }
    for (auto& log : logs) log->close();
  }
  cache.evict_unused();
  auto opens = cache.stats().opens;
  std::vector<std::unique_ptr<PartitionLog>> logs;
  for (int i = 0; i < kLogs; ++i)
    logs.push_back(PartitionLog::open(dir.path() / std::to_string(i), config, 0, Env::posix(), &cache));
  EXPECT_LE(cache.stats().opens - opens, static_cast<uint64_t>(3 * kLogs)) << "only the active segments";
  for (int i = 0; i < kLogs; ++i) {
    EXPECT_FALSE(logs[i]->recovered_on_open());
    auto after = read_all(*logs[i]);
    ASSERT_EQ(after.size(), before[i].size());
    for (size_t b = 0; b < after.size(); ++b) EXPECT_EQ(after[b].bytes, before[i][b].bytes);
    EXPECT_EQ(logs[i]->offset_for_timestamp(10), 18) << "round 9's batch, max timestamp 10";
  }
  EXPECT_LE(cache.open_count(), 8u);
}

TEST(PartitionLog, SyncBookkeeping) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  append(*log, {.records = 4});
  auto req = log->sync_handles();
  EXPECT_EQ(req.durable_offset, 4);
  EXPECT_FALSE(req.files.empty());
  EXPECT_EQ(log->flushed_offset(), 0);
  log->mark_flushed(req.durable_offset, req.sealed_below);
  EXPECT_EQ(log->flushed_offset(), 4);
  log->mark_flushed(2, 0);  // never back
  EXPECT_EQ(log->flushed_offset(), 4);
}

TEST(PartitionLog, Destroy) {
  TempDir dir;
  auto sub = dir.path() / "t-0";
  auto log = PartitionLog::open(sub, {}, 0);
  append(*log, {});
  log->close();
  PartitionLog::destroy(sub);
  EXPECT_FALSE(std::filesystem::exists(sub));
}

}  // namespace
}  // namespace runnel::storage
