// Power losses mixed with everything that removes records on purpose:
// DeleteRecords, retention by size, compaction, a follower's truncation.
// A random walk over one partition remembers the key written at every
// offset; after each step the log must show only records written there
// with that key, the latest record of every key at or above the log start
// (all of them when the topic is not compacted), a log start no lower than
// the last acknowledged DeleteRecords or retention pass, and after a power
// loss every synced offset. Power also fails in the middle of those
// operations (crash_during). The txn-state oracle (txn_state_test.cc) covers the producer and
// transaction state through the same losses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "protocol/record_codec.h"
#include "storage/fault_injection_env.h"
#include "storage/log_cleaner.h"
#include "storage/offset_map.h"
#include "storage/partition_log.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::TempDir;

// Every record the log shows, offset -> key; fails the test on a batch that
// does not decode or offsets that go backwards.
std::map<int64_t, std::string> shown(const PartitionLog& log) {
  std::map<int64_t, std::string> out;
  int64_t previous = -1;
  for (const auto& b : testing::read_all(log)) {
    for (auto& r : protocol::decode_record_batch(b.bytes)) {
      EXPECT_GT(r.offset, previous);
      previous = r.offset;
      out[r.offset] = r.key ? std::string(r.key->begin(), r.key->end()) : "";
    }
  }
  return out;
}

struct Walk {
  explicit Walk(uint32_t seed) : rng(seed) {
    config.segment_bytes = 400;
    config.index_interval_bytes = 64;
    config.compact = seed % 2 == 0;
    config.cleanup_delete = true;
    config.min_cleanable_dirty_ratio = 0;
    config.file_delete_delay_ms = seed % 3 == 0 ? 0 : 60'000;
    log = PartitionLog::open(dir.path(), config, now, &env);
  }

  void reopen() { log = PartitionLog::open(dir.path(), config, now, &env); }

  void append() {
    testing::BatchSpec spec;
    spec.records = 1 + static_cast<int>(rng() % 3);
    spec.key = "k" + std::to_string(rng() % 6);
    spec.base_timestamp = now;
    spec.value_size = 20 + rng() % 60;
    auto batch = testing::make_batch(spec);
    const int64_t offset = log->log_end_offset();
    auto got = log->append(batch, LeaderEpoch(0), now);
    ASSERT_EQ(got.error, ErrorCode::NONE) << got.error_message;
    ASSERT_EQ(got.base_offset, offset);
    for (int i = 0; i < spec.records; ++i) written[offset + i] = spec.key;
    now += 10;
  }

  // The flusher: its files synced one by one, or by a syncfs.
  void flush() {
    int64_t synced = 0;
    ASSERT_NO_FATAL_FAILURE(testing::sync_now(*log, env, rng() % 3 == 0 ? &dir.path() : nullptr, &synced));
    durable = std::max(durable, synced);
    // The high watermark follows the acknowledged (synced) writes.
    if (rng() % 2) committed = durable;
  }

  void compact() {
    if (!config.compact) return;
    auto plan = log->plan_cleaning(now, committed);
    if (!plan) return;
    OffsetMap map(64 + rng() % 4096);
    LogCleaner cleaner(&env, &map);
    auto result = cleaner.clean(*plan, [&](const CleanedGroup& g) { return log->swap_cleaned(g); });
    if (result.ok) log->cleaning_done(result.cleaned_through, result.next_horizon_ms);
  }

  void delete_records() {
    const int64_t start = log->log_start_offset();
    const int64_t target = start + static_cast<int64_t>(rng() % static_cast<uint64_t>(committed - start + 1));
    const int64_t got = log->delete_records_before(target);
    ASSERT_GE(got, target);  // nothing here makes the checkpoint fail
    start_floor = std::max(start_floor, got);
  }

  void retention() {
    LogConfig c = config;
    c.retention_bytes = static_cast<int64_t>(rng() % 6000);
    log->set_config(c);
    log->enforce_retention(now, committed);
    log->set_config(config);
    // What retention deleted stays deleted, and the log never begins again
    // below it (the active segment may have gone too).
    start_floor = std::max(start_floor, log->log_start_offset());
  }

  // A follower cutting a divergent suffix: never below the high watermark.
  void truncate() {
    const int64_t end = log->log_end_offset();
    const int64_t low = std::max(committed, log->log_start_offset());
    if (end <= low) return;
    const int64_t target = low + static_cast<int64_t>(rng() % static_cast<uint64_t>(end - low));
    ASSERT_TRUE(log->truncate_to(Offset(target)));
    forget_from(log->log_end_offset());
    durable = log->log_end_offset();  // truncate_to syncs what it leaves
  }

  // The power fails in the middle of a DeleteRecords, a retention pass, a
  // compaction or a truncation: every sync after a random number of them
  // fails (the operation may give up part way), then the power goes. The
  // operation may have taken effect or not; nothing acknowledged before it
  // may be lost, and only a truncation may cut synced records.
  void crash_during() {
    const int which = static_cast<int>(rng() % 4);
    env.fail_syncs_after(static_cast<int>(rng() % 8));
    if (which == 0) {
      const int64_t start = log->log_start_offset();
      (void)log->delete_records_before(start +
                                       static_cast<int64_t>(rng() % static_cast<uint64_t>(committed - start + 1)));
    } else if (which == 1) {
      LogConfig c = config;
      c.retention_bytes = static_cast<int64_t>(rng() % 6000);
      log->set_config(c);
      log->enforce_retention(now, committed);
    } else if (which == 2) {
      compact();
    } else {
      const int64_t end = log->log_end_offset();
      const int64_t low = std::max(committed, log->log_start_offset());
      if (end > low) {
        const int64_t target = low + static_cast<int64_t>(rng() % static_cast<uint64_t>(end - low));
        // A batch across the target goes whole: the log may end at its base.
        auto at = testing::read_batches(log->read(target, 1, true, end));
        const int64_t cut = at.empty() ? target : std::min(target, at.front().base_offset);
        (void)log->truncate_to(Offset(target));
        durable = std::min(durable, cut);
      }
    }
    env.fail_syncs_after(-1);
    log.reset();
    env.drop_unsynced_data(rng() % 2 ? rng() | 1 : 0);
    reopen();
  }

  void forget_from(int64_t end) { written.erase(written.lower_bound(end), written.end()); }

  void check(bool reopened) {
    const int64_t end = log->log_end_offset();
    const int64_t start = log->log_start_offset();
    if (reopened) {
      ASSERT_GE(end, durable);
      forget_from(end);
      durable = std::min(durable, end);
    }
    ASSERT_GE(start, start_floor);
    ASSERT_LE(start, std::max(committed, start_floor));  // retention stops at the high watermark
    ASSERT_LE(committed, end);
    auto seen = shown(*log);
    for (const auto& [offset, key] : seen) {
      ASSERT_LT(offset, end);
      auto it = written.find(offset);
      ASSERT_NE(it, written.end()) << "offset " << offset << " was never written";
      ASSERT_EQ(it->second, key) << "offset " << offset;
    }
    std::map<std::string, int64_t> latest;
    for (const auto& [offset, key] : written)
      if (offset >= start) latest[key] = offset;
    std::set<int64_t> wanted;
    for (const auto& [offset, key] : written) {
      if (offset < start) continue;
      if (!config.compact || latest[key] == offset) wanted.insert(offset);
    }
    for (int64_t offset : wanted) ASSERT_TRUE(seen.contains(offset)) << "offset " << offset << " is gone";
  }

  std::mt19937 rng;
  // The FaultInjectionEnv, not the disk, decides what a power loss keeps:
  // a tmpfs makes its real syncs free (8 s -> 2 s here).
  TempDir dir{std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path()};
  FaultInjectionEnv env;
  LogConfig config;
  int64_t now = 1'000'000;
  std::unique_ptr<PartitionLog> log;
  std::map<int64_t, std::string> written;  // offset -> key of every record appended and not cut
  int64_t durable = 0;                     // every offset below is synced
  int64_t committed = 0;                   // the high watermark: cleaning stays below it
  int64_t start_floor = 0;                 // the log start DeleteRecords or retention last set
};

TEST(PowerLoss, DeletionsCompactionAndTruncationAgainstOracle) {
  // RUNNEL_POWER_LOSS_SEEDS=N walks N seeds instead of 16 (a longer hunt by hand).
  const char* seeds = std::getenv("RUNNEL_POWER_LOSS_SEEDS");
  const uint32_t last_seed = seeds ? static_cast<uint32_t>(std::strtoul(seeds, nullptr, 10)) : 16;
  for (uint32_t seed = 1; seed <= last_seed; ++seed) {
    Walk w(seed);
    for (int step = 0; step < 400; ++step) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
      const int op = static_cast<int>(w.rng() % 100);
      bool reopened = false;
      if (op < 2) {
        w.log->close();
        w.durable = w.log->log_end_offset();
        w.reopen();
        reopened = true;
      } else if (op < 6) {
        w.log.reset();  // the process dies and the power with it
        // Half the time the disk keeps a prefix of each directory's changes
        // that no directory sync made durable, else none of them.
        w.env.drop_unsynced_data(w.rng() % 2 ? w.rng() | 1 : 0);
        w.reopen();
        reopened = true;
      } else if (op < 8) {
        w.crash_during();
        reopened = true;
      } else if (op < 11) {
        w.truncate();
      } else if (op < 24) {
        w.flush();
      } else if (op < 26) {
        w.delete_records();
      } else if (op < 28) {
        w.retention();
      } else if (op < 40) {
        w.compact();
      } else {
        w.append();
      }
      if (::testing::Test::HasFatalFailure()) return;
      w.check(reopened);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace runnel::storage
