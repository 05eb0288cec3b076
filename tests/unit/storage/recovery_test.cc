// Recovery after unclean stops: torn tails, bit flips, power loss with the
// fault-injecting Env, damaged indexes. One test per corruption path.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <future>
#include <random>

#include "storage/checkpoint.h"
#include "storage/fault_injection_env.h"
#include "storage/flusher.h"
#include "storage/partition_log.h"
#include "storage/segment.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::make_batch;
using testing::read_all;
using testing::sync_now;
using testing::TempDir;

std::filesystem::path last_log_file(const std::filesystem::path& dir) {
  std::filesystem::path last;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".log" && e.path() > last) last = e.path();
  return last;
}

// Appends `batches` batches of two records each, every one accepted.
void append_pairs(PartitionLog& log, int batches) {
  for (int i = 0; i < batches; ++i) {
    auto b = make_batch({.records = 2});
    ASSERT_EQ(log.append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
  }
}

TEST(Recovery, TornTailTruncatesToLastGoodBatch) {
  std::mt19937 rng(3);
  for (int iter = 0; iter < 40; ++iter) {
    TempDir dir;
    LogConfig config;
    config.segment_bytes = 2500;
    std::vector<testing::ReadBatch> written;
    int64_t synced;
    {
      auto log = PartitionLog::open(dir.path(), config, 0);
      for (int i = 0; i < 30; ++i) {
        auto b = make_batch({.records = 1 + static_cast<int>(rng() % 3), .value_size = rng() % 80});
        ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
        if (i == 20) sync_now(*log, *Env::posix());
      }
      synced = log->flushed_offset();
      written = read_all(*log);
    }  // dropped without close(): an unclean stop
    auto file = last_log_file(dir.path());
    auto size = std::filesystem::file_size(file);
    uint64_t last_size = written.back().bytes.size();
    ASSERT_GE(size, last_size);
    uint64_t last_pos = size - last_size;
    if (iter % 2 == 0) {
      std::filesystem::resize_file(file, last_pos + rng() % last_size);  // torn write
    } else {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      uint64_t at = last_pos + rng() % last_size;
      f.seekg(static_cast<std::streamoff>(at));
      char c;
      f.get(c);
      f.seekp(static_cast<std::streamoff>(at));
      f.put(static_cast<char>(c ^ (1 << (rng() % 8))));
    }
    auto log = PartitionLog::open(dir.path(), config, 0);
    EXPECT_TRUE(log->recovered_on_open());
    auto after = read_all(*log);
    bool lost_last = after.size() == written.size() - 1;
    // A flip in the base offset field (outside the CRC) of the last batch
    // still reads back as a whole batch only if the offset stays in order.
    ASSERT_TRUE(lost_last || after.size() == written.size()) << iter;
    for (size_t i = 0; i + 1 < written.size(); ++i) ASSERT_EQ(after[i].bytes, written[i].bytes) << iter;
    EXPECT_GE(log->log_end_offset(), synced);
    EXPECT_EQ(log->log_end_offset(), after.back().last_offset + 1);
    // The log goes on from where recovery left it.
    auto b = make_batch();
    EXPECT_EQ(log->append(b, LeaderEpoch(0), 0).base_offset, after.back().last_offset + 1);
  }
}

TEST(Recovery, GarbageInMiddleSegmentDropsLaterSegments) {
  TempDir dir;
  LogConfig config;
  config.segment_bytes = 1000;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int i = 0; i < 40; ++i) {
      auto b = make_batch({.records = 1, .value_size = 100});
      log->append(b, LeaderEpoch(0), 0);
    }
    ASSERT_GT(log->segment_count(), 4u);
  }
  // Corrupt the second segment; no recovery point was written, so all are scanned.
  std::filesystem::path second;
  std::vector<std::filesystem::path> logs;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().extension() == ".log") logs.push_back(e.path());
  std::sort(logs.begin(), logs.end());
  {
    std::fstream f(logs[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.write("garbage!", 8);
  }
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_GT(log->bytes_truncated_on_open(), 0u);
  auto all = read_all(*log);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(log->log_end_offset(), all.back().last_offset + 1);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].base_offset, static_cast<int64_t>(i));
}

TEST(Recovery, PowerLossKeepsEverySyncedBatch) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 10; ++iter) {
    TempDir dir;
    FaultInjectionEnv env;
    LogConfig config;
    config.segment_bytes = 1500;
    int64_t durable = 0;
    std::vector<testing::ReadBatch> written;
    {
      Flusher flusher(&env);
      flusher.start();
      auto log = PartitionLog::open(dir.path(), config, 0, &env);
      int n = 20 + static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        auto b = make_batch({.records = 1 + static_cast<int>(rng() % 4), .value_size = rng() % 100});
        ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
        if (rng() % 6 == 0) {
          std::promise<int64_t> done;
          auto req = log->sync_handles();
          int64_t sealed_below = req.sealed_below;
          flusher.request(std::move(req), [&](int64_t d) { done.set_value(d); });
          int64_t d = done.get_future().get();
          ASSERT_GE(d, 0);
          log->mark_flushed(d, sealed_below);
          durable = d;
        }
      }
      written = read_all(*log);
      flusher.stop();
    }  // crash
    env.drop_unsynced_data();
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    auto after = read_all(*log);
    EXPECT_GE(log->log_end_offset(), durable) << iter;
    ASSERT_LE(after.size(), written.size());
    for (size_t i = 0; i < after.size(); ++i) ASSERT_EQ(after[i].bytes, written[i].bytes) << iter;
    // Dropping everything unsynced again changes nothing: recovery synced what it kept.
    int64_t end = log->log_end_offset();
    log.reset();
    env.drop_unsynced_data();
    EXPECT_EQ(PartitionLog::open(dir.path(), config, 0, &env)->log_end_offset(), end);
  }
}

TEST(Recovery, PowerLossBeforeAnySyncLosesOnlyUnsyncedData) {
  TempDir dir;
  FaultInjectionEnv env;
  {
    auto log = PartitionLog::open(dir.path(), {}, 0, &env);
    auto b = make_batch({.records = 5});
    log->append(b, LeaderEpoch(0), 0);
  }
  env.drop_unsynced_data();
  auto log = PartitionLog::open(dir.path(), {}, 0, &env);
  EXPECT_EQ(log->log_end_offset(), 0);
  auto b = make_batch({.records = 2});
  EXPECT_EQ(log->append(b, LeaderEpoch(0), 0).base_offset, 0);
}

// Recovery makes what survived the crash durable before it counts as
// flushed; if the disk refuses, the open fails (the partition goes offline,
// KAFKA_STORAGE_ERROR) instead of acknowledging on top of unsynced bytes.
TEST(Recovery, ASyncThatFailsDuringRecoveryFailsTheOpen) {
  TempDir dir;
  FaultInjectionEnv env;
  {
    auto log = PartitionLog::open(dir.path(), {}, 0, &env);
    append_pairs(*log, 3);
  }  // a crash: no close, nothing synced
  env.fail_syncs_under(dir.path());
  EXPECT_THROW(PartitionLog::open(dir.path(), {}, 0, &env), std::runtime_error);
}

TEST(Recovery, NewPartitionSyncsNothingUntilItsFirstData) {
  TempDir dir;
  FaultInjectionEnv env;
  {
    int syncs = env.sync_calls();
    auto log = PartitionLog::open(dir.path(), {}, 0, &env);
    EXPECT_FALSE(log->recovered_on_open());
    EXPECT_EQ(env.sync_calls(), syncs) << "an empty directory has nothing to recover or make durable";
    auto b = make_batch({.records = 3});
    ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
    sync_now(*log, env);  // the first sync carries the files' directory entries
  }
  env.drop_unsynced_data();
  auto log = PartitionLog::open(dir.path(), {}, 0, &env);
  EXPECT_EQ(log->log_end_offset(), 3);
}

TEST(Recovery, CleanShutdownMarkerMakesStartInstant) {
  TempDir dir;
  FaultInjectionEnv env;
  {
    auto log = PartitionLog::open(dir.path(), {}, 0, &env);
    for (int i = 0; i < 50; ++i) {
      auto b = make_batch({.records = 2});
      log->append(b, LeaderEpoch(0), 0);
    }
    log->close();
  }
  env.drop_unsynced_data();  // close() synced everything: nothing is lost
  int syncs = env.sync_calls();
  auto log = PartitionLog::open(dir.path(), {}, 0, &env);
  EXPECT_FALSE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 100);
  EXPECT_EQ(env.sync_calls(), syncs);  // no scan, no re-sync
  // A crash with nothing changed still starts clean: the marker still stands.
  log.reset();
  log = PartitionLog::open(dir.path(), {}, 0, &env);
  EXPECT_FALSE(log->recovered_on_open());
  // After a change, a crash is unclean: the marker is gone for good.
  auto b = make_batch({.records = 2});
  EXPECT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
  log.reset();
  EXPECT_TRUE(PartitionLog::open(dir.path(), {}, 0, &env)->recovered_on_open());
}

TEST(Recovery, DamagedIndexAfterCleanShutdownIsRebuilt) {
  TempDir dir;
  LogConfig config;
  config.index_interval_bytes = 100;
  {
    auto log = PartitionLog::open(dir.path(), config, 0);
    for (int i = 0; i < 50; ++i) {
      auto b = make_batch({.records = 2, .value_size = 60});
      log->append(b, LeaderEpoch(0), 0);
    }
    log->close();
  }
  auto index = dir.path() / (Segment::file_stem(0) + ".index");
  ASSERT_GT(std::filesystem::file_size(index), 16u);
  {
    std::fstream f(index, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
  }
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_EQ(log->log_end_offset(), 100);
  auto from = testing::read_batches(log->read(61, 1 << 20, true, 100));
  ASSERT_FALSE(from.empty());
  EXPECT_EQ(from[0].base_offset, 60);
}

// Batches as an older runnel stored them when the producer sent maxTimestamp -1:
// offsets assigned, header max timestamp -1, CRC valid.
std::vector<uint8_t> legacy_segment(int batches, int records, int64_t base_timestamp) {
  std::vector<uint8_t> out;
  for (int i = 0; i < batches; ++i) {
    auto b = make_batch({.records = records, .base_timestamp = base_timestamp + 100 * i, .value_size = 50});
    store_be64(b.data(), static_cast<uint64_t>(i * records));
    store_be64(b.data() + 35, static_cast<uint64_t>(-1));
    testing::fix_crc(b);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(Recovery, LegacyMaxTimestampIsIndexedFromTheRecords) {
  TempDir dir;
  LogConfig config;
  config.index_interval_bytes = 200;
  config.retention_ms = 10'000;
  auto legacy = legacy_segment(20, 3, 1000);
  config.segment_bytes = static_cast<int64_t>(legacy.size());  // the next append rolls
  write_file(dir.path() / (Segment::file_stem(0) + ".log"), legacy);
  auto log = PartitionLog::open(dir.path(), config, 0);  // no marker: recovery
  EXPECT_TRUE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 60);
  EXPECT_EQ(log->bytes_truncated_on_open(), 0u);
  // Batch i: offsets 3i..3i+2, timestamps 1000 + 100i + {0, 1, 2}.
  EXPECT_EQ(log->max_timestamp_and_offset(), (std::pair<int64_t, int64_t>{1000 + 1900 + 2, 57}));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(log->offset_for_timestamp(1000 + 100 * i + 1), 3 * i) << i;
  EXPECT_EQ(log->offset_for_timestamp(5000), -1);
  // Stored bytes are not rewritten: recovery indexes, it does not patch.
  EXPECT_EQ(read_all(*log)[0].max_timestamp, -1);
  // Time retention sees the segment's real age (with -1 it never expired).
  auto b = make_batch({.records = 1, .base_timestamp = 20'000});
  ASSERT_EQ(log->append(b, LeaderEpoch(0), 20'000).error, ErrorCode::NONE);
  ASSERT_EQ(log->segment_count(), 2u);
  log->enforce_retention(2902 + 10'000);
  EXPECT_EQ(log->segment_count(), 2u);
  log->enforce_retention(2902 + 10'001);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 60);
}

TEST(Recovery, LegacyMaxTimestampAfterCleanShutdownIsReadFromTheRecords) {
  TempDir dir;
  LogConfig config;
  // Empty indexes and a clean marker: the start is clean, and every header is
  // past the last index entry, so the load reads them all.
  write_file(dir.path() / (Segment::file_stem(0) + ".log"), legacy_segment(5, 2, 1000));
  write_file(dir.path() / (Segment::file_stem(0) + ".index"), {});
  write_file(dir.path() / (Segment::file_stem(0) + ".timeindex"), {});
  ASSERT_TRUE(write_checkpoint(*Env::posix(), dir.path() / PartitionLog::kCleanShutdownFile, 10));
  auto log = PartitionLog::open(dir.path(), config, 0);
  EXPECT_FALSE(log->recovered_on_open());
  EXPECT_EQ(log->max_timestamp_and_offset(), (std::pair<int64_t, int64_t>{1401, 8}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(log->offset_for_timestamp(1000 + 100 * i + 1), 2 * i) << i;
}

TEST(Recovery, CorruptCheckpointsReadAsAbsent) {
  TempDir dir;
  auto path = dir.path() / "cp";
  ASSERT_TRUE(write_checkpoint(*Env::posix(), path, 12345));
  EXPECT_EQ(read_checkpoint(*Env::posix(), path), 12345);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(9);
    f.put('x');
  }
  EXPECT_FALSE(read_checkpoint(*Env::posix(), path));
  EXPECT_FALSE(read_checkpoint(*Env::posix(), dir.path() / "missing"));
}

TEST(Flusher, CompletesEveryRequestAndReportsFailures) {
  TempDir dir;
  FaultInjectionEnv env;
  auto log = PartitionLog::open(dir.path(), {}, 0, &env);
  Flusher flusher(&env);
  // Not started: requests run inline.
  auto b = make_batch({.records = 3});
  log->append(b, LeaderEpoch(0), 0);
  int64_t got = -2;
  flusher.request(log->sync_handles(), [&](int64_t d) { got = d; });
  EXPECT_EQ(got, 3);
  env.set_fail_syncs(true);
  flusher.request(log->sync_handles(), [&](int64_t d) { got = d; });
  EXPECT_EQ(got, -1);
  env.set_fail_syncs(false);
  flusher.start();
  std::atomic<int> completed{0};
  for (int i = 0; i < 50; ++i) flusher.request(log->sync_handles(), [&](int64_t) { ++completed; });
  flusher.stop();
  EXPECT_EQ(completed.load(), 50);
  EXPECT_EQ(flusher.rounds(), 52u);
}

// How many of the first `bytes` of `path` are in the page cache (mincore).
uint64_t cached_bytes(const std::filesystem::path& path, uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(map, MAP_FAILED);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  EXPECT_EQ(::mincore(map, bytes, resident.data()), 0);
  ::munmap(map, bytes);
  uint64_t cached = 0;
  for (auto r : resident) cached += (r & 1) ? page : 0;
  return cached;
}

// With page_cache_tail_bytes, a completed sync lets the synced log bytes
// more than a tail behind the end leave the page cache; the last tail stays,
// and every record still reads back (from the disk).
TEST(Flusher, DropsSyncedBytesBehindTheTailFromThePageCache) {
  TempDir dir;
  {
    // A file system that keeps pages whatever the advice (tmpfs) cannot
    // show it.
    const auto probe = dir.path() / "probe";
    std::ofstream(probe) << std::string(1 << 20, 'p');
    auto file = Env::posix()->open(probe, false);
    ASSERT_TRUE(file);
    ASSERT_TRUE(Env::posix()->sync(*file));
    ASSERT_TRUE(Env::posix()->drop_cache(*file, 1 << 20));
    if (cached_bytes(probe, 1 << 20) > (256u << 10))
      GTEST_SKIP() << "the file system under " << dir.path() << " keeps pages that posix_fadvise lets go";
  }
  LogConfig config;
  config.page_cache_tail_bytes = 1 << 20;
  auto log = PartitionLog::open(dir.path(), config, 0, Env::posix());
  Flusher flusher(Env::posix(), /*threads=*/1);
  flusher.start();
  int64_t records = 0;
  // 8 MiB in 64 KiB batches, a sync after each, as acks=all appends would.
  for (int i = 0; i < 128; ++i) {
    auto b = make_batch({.records = 16, .value_size = 4000});
    ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
    records += 16;
    std::promise<int64_t> done;
    flusher.request(log->sync_handles(), [&](int64_t d) { done.set_value(d); });
    ASSERT_EQ(done.get_future().get(), records);
    log->mark_flushed(records, 0);
  }
  flusher.stop();
  EXPECT_GT(flusher.cache_drop_calls(), 0u);
  const auto file = last_log_file(dir.path());
  const uint64_t size = std::filesystem::file_size(file);
  ASSERT_GT(size, 6u << 20);
  // The head: gone but for pages a neighbour's readahead or the last
  // partial page may keep.
  EXPECT_LT(cached_bytes(file, size - (3u << 20)), 256u << 10);
  // The tail (at least the last MiB) stays cached.
  EXPECT_GE(cached_bytes(file, size) - cached_bytes(file, size - (1u << 20)), 1u << 20);
  EXPECT_EQ(read_all(*log).size(), 128u);
}

// Without it (the default) the kernel keeps what it likes: nothing dropped.
TEST(Flusher, LeavesThePageCacheAloneByDefault) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0, Env::posix());
  Flusher flusher(Env::posix(), /*threads=*/1);
  auto b = make_batch({.records = 16, .value_size = 4000});
  ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
  auto request = log->sync_handles();
  EXPECT_TRUE(request.cache_drops.empty());
  int64_t got = 0;
  flusher.request(std::move(request), [&](int64_t d) { got = d; });
  EXPECT_EQ(got, 16);
  EXPECT_EQ(flusher.cache_drop_calls(), 0u);
  const auto file = last_log_file(dir.path());
  EXPECT_EQ(cached_bytes(file, std::filesystem::file_size(file)), (std::filesystem::file_size(file) + 4095) & ~4095ull);
}

// Queues one request per log on a one-thread flusher whose thread is held
// by an earlier request's completion until all of them are queued, so that
// the thread finds them waiting together. Returns what each completion got.
std::vector<int64_t> flush_while_busy(Flusher& flusher, PartitionLog& first,
                                      std::vector<std::unique_ptr<PartitionLog>>& logs) {
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> holding;
  flusher.request(first.sync_handles(), [&](int64_t) {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();
  std::vector<std::promise<int64_t>> done(logs.size());
  for (size_t i = 0; i < logs.size(); ++i)
    flusher.request(logs[i]->sync_handles(), [&done, i](int64_t d) { done[i].set_value(d); });
  release.set_value();
  std::vector<int64_t> got;
  for (auto& d : done) got.push_back(d.get_future().get());
  return got;
}

// `n` logs under `dir` (named 0..n-1), log i holding one batch of
// records(i) records.
std::vector<std::unique_ptr<PartitionLog>> logs_with_one_batch(const std::filesystem::path& dir, Env& env, int n,
                                                               const std::function<int(int)>& records) {
  std::vector<std::unique_ptr<PartitionLog>> logs;
  for (int i = 0; i < n; ++i) {
    logs.push_back(PartitionLog::open(dir / std::to_string(i), {}, 0, &env));
    auto b = make_batch({.records = records(i)});
    EXPECT_EQ(logs.back()->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
  }
  return logs;
}

// Many partitions waiting at once are made durable by one syncfs, which
// covers every file a power loss would otherwise cut.
TEST(Flusher, SyncsManyWaitingRequestsWithOneFilesystemSync) {
  TempDir dir;
  FaultInjectionEnv env;
  auto holder = PartitionLog::open(dir.path() / "holder", {}, 0, &env);
  auto logs = logs_with_one_batch(dir.path(), env, 6, [](int i) { return 1 + i; });
  Flusher flusher(&env, /*threads=*/1);
  flusher.sync_filesystem_when_busy(env.open_dir(dir.path()), 4);
  flusher.start();
  const int syncs_before = env.sync_calls();
  auto got = flush_while_busy(flusher, *holder, logs);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(got[i], 1 + i);
  // The holder's own request (nothing to sync) and one syncfs for the six.
  EXPECT_EQ(flusher.requests_per_syncfs().snapshot().count(), 1u);
  EXPECT_EQ(flusher.requests_per_syncfs().snapshot().sum, 6.0);
  EXPECT_EQ(env.sync_calls() - syncs_before, 1 + static_cast<int>(holder->sync_handles().files.size()));
  EXPECT_FALSE(flusher.syncfs_failed());
  flusher.stop();
  for (auto& log : logs) log.reset();
  env.drop_unsynced_data();
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(PartitionLog::open(dir.path() / std::to_string(i), {}, 0, &env)->log_end_offset(), 1 + i);
}

// Fewer waiting than the threshold, or no file system named: each request
// its own fdatasyncs, as before.
TEST(Flusher, FewWaitingRequestsAreSyncedOneByOne) {
  for (size_t threshold : {size_t{0}, size_t{8}}) {
    TempDir dir;
    FaultInjectionEnv env;
    auto holder = PartitionLog::open(dir.path() / "holder", {}, 0, &env);
    auto logs = logs_with_one_batch(dir.path(), env, 4, [](int) { return 2; });
    Flusher flusher(&env, /*threads=*/1);
    flusher.sync_filesystem_when_busy(env.open_dir(dir.path()), threshold);
    flusher.start();
    auto got = flush_while_busy(flusher, *holder, logs);
    for (auto d : got) EXPECT_EQ(d, 2) << threshold;
    EXPECT_EQ(flusher.requests_per_syncfs().snapshot().count(), 0u) << threshold;
    flusher.stop();
  }
}

// A failed syncfs fails no request by itself: each is synced on its own
// (and fails only if its own files fail), and the flusher never uses
// syncfs again, since the error it reported may be any file's.
TEST(Flusher, FailedFilesystemSyncFallsBackToEachFile) {
  TempDir dir;
  FaultInjectionEnv env;
  auto holder = PartitionLog::open(dir.path() / "holder", {}, 0, &env);
  auto logs = logs_with_one_batch(dir.path(), env, 5, [](int) { return 3; });
  Flusher flusher(&env, /*threads=*/1);
  flusher.sync_filesystem_when_busy(env.open_dir(dir.path()), 2);
  flusher.start();
  env.set_fail_syncs(true);
  for (auto d : flush_while_busy(flusher, *holder, logs)) EXPECT_EQ(d, Flusher::kSyncFailed);
  EXPECT_TRUE(flusher.syncfs_failed());
  env.set_fail_syncs(false);
  for (auto& log : logs) {
    auto b = make_batch({.records = 1});
    ASSERT_EQ(log->append(b, LeaderEpoch(0), 0).error, ErrorCode::NONE);
  }
  for (auto d : flush_while_busy(flusher, *holder, logs)) EXPECT_EQ(d, 4);
  EXPECT_EQ(flusher.requests_per_syncfs().snapshot().count(), 0u);
  flusher.stop();
}

// The broker's shutdown: seal, one sync of the whole file system, markers
// written without a sync of their own. A power loss after the second sync
// starts clean; one before it (markers not yet durable) recovers, losing
// nothing that the first sync covered.
TEST(Recovery, TwoStepShutdownWithOneFilesystemSync) {
  for (bool second_sync : {true, false}) {
    TempDir dir;
    FaultInjectionEnv env;
    LogConfig config;
    config.segment_bytes = 1500;
    std::vector<testing::ReadBatch> written;
    {
      auto log = PartitionLog::open(dir.path(), config, 0, &env);
      ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 40));
      written = read_all(*log);
      ASSERT_TRUE(log->prepare_shutdown());
      auto root = Env::posix()->open_dir(dir.path());
      ASSERT_TRUE(env.sync_filesystem(*root));
      log->finish_shutdown();
      if (second_sync) {
        ASSERT_TRUE(env.sync_filesystem(*root));
      }
    }
    env.drop_unsynced_data();
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    EXPECT_EQ(log->recovered_on_open(), !second_sync);
    EXPECT_EQ(log->bytes_truncated_on_open(), 0u);
    auto after = read_all(*log);
    ASSERT_EQ(after.size(), written.size());
    for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].bytes, written[i].bytes);
  }
}

// After a clean start, a power loss following the first append must recover
// (the marker went before the append), never trust the stale marker.
TEST(Recovery, FirstChangeAfterCleanStartRetiresTheMarkerDurably) {
  TempDir dir;
  FaultInjectionEnv env;
  LogConfig config;
  config.segment_bytes = 1500;
  {
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 20));
    log->close();
  }
  {
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    EXPECT_FALSE(log->recovered_on_open());
    ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 20));
  }  // unclean: nothing of the new appends synced
  env.drop_unsynced_data();
  auto log = PartitionLog::open(dir.path(), config, 0, &env);
  EXPECT_TRUE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 40) << "what the clean stop had made durable, nothing torn";
}

// Writes in place (the recovery point, the clean-shutdown marker) are undone
// by a power loss until synced, in files made under the FaultInjectionEnv and
// in files that were there before it.
TEST(Recovery, InPlaceWritesNotSyncedAreUndoneByAPowerLoss) {
  TempDir dir;
  const auto before = dir.path() / "before";
  ASSERT_TRUE(overwrite_checkpoint(*Env::posix(), before, 1));
  FaultInjectionEnv env;
  const auto made = dir.path() / "made";
  ASSERT_TRUE(overwrite_checkpoint(env, made, 2));
  ASSERT_TRUE(overwrite_checkpoint(env, made, 3, /*durable=*/false));
  ASSERT_TRUE(overwrite_checkpoint(env, made, 4, /*durable=*/false));
  ASSERT_TRUE(overwrite_checkpoint(env, before, 5, /*durable=*/false));
  EXPECT_EQ(read_checkpoint(env, made), 4);
  env.drop_unsynced_data();
  EXPECT_EQ(read_checkpoint(env, made), 2);
  EXPECT_EQ(read_checkpoint(env, before), 1);
  ASSERT_TRUE(overwrite_checkpoint(env, made, 6, /*durable=*/false));
  ASSERT_TRUE(clear_checkpoint(env, before));
  ASSERT_TRUE(overwrite_checkpoint(env, made, 7));
  env.drop_unsynced_data();
  EXPECT_EQ(read_checkpoint(env, made), 7);
  EXPECT_FALSE(read_checkpoint(env, before));
  EXPECT_TRUE(std::filesystem::exists(before)) << "cleared in place, not removed";
}

// A clean shutdown rewrites the recovery point and the marker in the files
// it wrote before (no inode made or freed), with the recovery point at the
// end; the first change of the next run only clears the marker.
TEST(Recovery, ShutdownRewritesItsCheckpointsInPlace) {
  TempDir dir;
  FaultInjectionEnv env;
  LogConfig config;
  config.segment_bytes = 1500;
  auto inode = [&](const char* name) {
    struct stat st {};
    EXPECT_EQ(::stat((dir.path() / name).c_str(), &st), 0) << name;
    return st.st_ino;
  };
  auto root = Env::posix()->open_dir(dir.path());
  ino_t recovery_inode = 0;
  ino_t marker_inode = 0;
  for (int run = 0; run < 3; ++run) {
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    EXPECT_FALSE(log->recovered_on_open());
    ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 20));
    if (run > 0) {
      EXPECT_FALSE(read_checkpoint(env, dir.path() / PartitionLog::kCleanShutdownFile));
      EXPECT_EQ(inode(PartitionLog::kCleanShutdownFile), marker_inode);
    }
    ASSERT_TRUE(log->prepare_shutdown());
    ASSERT_TRUE(env.sync_filesystem(*root));
    log->finish_shutdown();
    ASSERT_TRUE(env.sync_filesystem(*root));
    const int64_t end = 40 * (run + 1);
    EXPECT_EQ(read_checkpoint(env, dir.path() / PartitionLog::kRecoveryPointFile), end);
    EXPECT_EQ(read_checkpoint(env, dir.path() / PartitionLog::kCleanShutdownFile), end);
    if (run > 0) {
      EXPECT_EQ(inode(PartitionLog::kRecoveryPointFile), recovery_inode);
      EXPECT_EQ(inode(PartitionLog::kCleanShutdownFile), marker_inode);
    }
    recovery_inode = inode(PartitionLog::kRecoveryPointFile);
    marker_inode = inode(PartitionLog::kCleanShutdownFile);
  }
  env.drop_unsynced_data();
  auto log = PartitionLog::open(dir.path(), config, 0, &env);
  EXPECT_FALSE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 120);
}

// A marker left by an older runnel (whose fast shutdown did not move the
// recovery point) still becomes the recovery point at the first change, and a
// power loss right after recovers from there.
TEST(Recovery, FirstChangeAfterAnOlderShutdownMovesTheRecoveryPoint) {
  TempDir dir;
  FaultInjectionEnv env;
  LogConfig config;
  config.segment_bytes = 1500;
  {
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 20));
    log->close();
  }
  ASSERT_TRUE(overwrite_checkpoint(env, dir.path() / PartitionLog::kRecoveryPointFile, 0));
  {
    auto log = PartitionLog::open(dir.path(), config, 0, &env);
    EXPECT_FALSE(log->recovered_on_open());
    ASSERT_NO_FATAL_FAILURE(append_pairs(*log, 1));
    EXPECT_EQ(read_checkpoint(env, dir.path() / PartitionLog::kRecoveryPointFile), 40);
  }
  env.drop_unsynced_data();
  EXPECT_EQ(read_checkpoint(env, dir.path() / PartitionLog::kRecoveryPointFile), 40);
  EXPECT_FALSE(read_checkpoint(env, dir.path() / PartitionLog::kCleanShutdownFile));
  auto log = PartitionLog::open(dir.path(), config, 0, &env);
  EXPECT_TRUE(log->recovered_on_open());
  EXPECT_EQ(log->log_end_offset(), 40);
}

}  // namespace
}  // namespace runnel::storage
