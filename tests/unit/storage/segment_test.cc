// Segment and its indexes against a trivial in-memory oracle, with random
// operations (in the spirit of Kafka's OffsetIndexTest).
#include "storage/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::make_batch;
using testing::TempDir;

TEST(SegmentNames, TwentyDigits) {
  EXPECT_EQ(Segment::file_stem(0), "00000000000000000000");
  EXPECT_EQ(Segment::file_stem(42), "00000000000000000042");
  EXPECT_EQ(Segment::parse_log_name("00000000000000000042.log"), 42);
  EXPECT_FALSE(Segment::parse_log_name("00000000000000000042.index"));
  EXPECT_FALSE(Segment::parse_log_name("0000000000000000004x.log"));
  EXPECT_FALSE(Segment::parse_log_name("42.log"));
}

TEST(OffsetIndex, RandomLookupsMatchOracle) {
  TempDir dir;
  std::mt19937 rng(7);
  FileCache cache(Env::posix(), 1);
  OffsetIndex index(&cache, dir.path() / "x.index", 1000);
  ASSERT_TRUE(index.open());
  std::vector<OffsetIndex::Entry> oracle;
  int64_t offset = 1000;
  uint32_t pos = 0;
  for (int i = 0; i < 500; ++i) {
    offset += 1 + rng() % 20;
    pos += 1 + rng() % 1000;
    ASSERT_TRUE(index.append(offset, pos));
    oracle.push_back({offset, pos});
    EXPECT_TRUE(index.append(offset, pos));  // not advancing: ignored, not an error
  }
  auto check = [&](const OffsetIndex& idx) {
    for (int q = 0; q < 2000; ++q) {
      int64_t target = 990 + static_cast<int64_t>(rng() % (offset - 980));
      OffsetIndex::Entry want{1000, 0};
      for (auto& e : oracle)
        if (e.offset <= target) want = e;
      auto got = idx.lookup(target);
      ASSERT_EQ(got.offset, want.offset) << target;
      ASSERT_EQ(got.position, want.position) << target;
    }
  };
  check(index);
  OffsetIndex reloaded(&cache, dir.path() / "x.index", 1000);
  ASSERT_TRUE(reloaded.open());
  ASSERT_TRUE(reloaded.load(UINT32_MAX));
  check(reloaded);
  // Truncation by position keeps exactly the entries below it.
  uint32_t cut = oracle[oracle.size() / 2].position;
  ASSERT_TRUE(reloaded.truncate_to_position(cut));
  std::erase_if(oracle, [cut](auto& e) { return e.position >= cut; });
  check(reloaded);
  // An index pointing past the log is refused.
  OffsetIndex insane(&cache, dir.path() / "x.index", 1000);
  ASSERT_TRUE(insane.open());
  EXPECT_FALSE(insane.load(10));
}

struct WrittenBatch {
  int64_t base, last, max_ts;
  uint64_t position;
  uint32_t size;
};

TEST(Segment, RandomOperationsMatchOracle) {
  TempDir dir;
  std::mt19937 rng(11);
  const int64_t base = 500;
  // Two descriptors for three files: every access may reopen a file the
  // previous one closed, so this also checks reads and appends after eviction.
  FileCache cache(Env::posix(), 2);
  auto seg = Segment::create(&cache, dir.path(), base, 256);
  ASSERT_TRUE(seg);
  std::vector<WrittenBatch> oracle;
  int64_t next = base;
  int64_t ts = 0;
  auto check = [&](Segment& s) {
    ASSERT_EQ(s.next_offset(), next);
    uint64_t size = oracle.empty() ? 0 : oracle.back().position + oracle.back().size;
    ASSERT_EQ(s.size(), size);
    for (int q = 0; q < 200; ++q) {
      int64_t target = base - 2 + static_cast<int64_t>(rng() % (next - base + 5));
      const WrittenBatch* want = nullptr;
      for (auto& b : oracle)
        if (b.last >= target) {
          want = &b;
          break;
        }
      auto got = s.find(target);
      ASSERT_EQ(got.has_value(), want != nullptr) << target;
      if (want) {
        ASSERT_EQ(got->base_offset, want->base);
        ASSERT_EQ(got->position, want->position);
      }
      int64_t t = static_cast<int64_t>(rng() % (ts + 50)) - 10;
      const WrittenBatch* want_ts = nullptr;
      for (auto& b : oracle)
        if (b.max_ts >= t) {
          want_ts = &b;
          break;
        }
      auto got_ts = s.find_timestamp(t);
      ASSERT_EQ(got_ts.has_value(), want_ts != nullptr) << t;
      if (want_ts) {
        ASSERT_EQ(got_ts->base_offset, want_ts->base) << t;
      }
    }
  };
  for (int round = 0; round < 300; ++round) {
    int op = rng() % 10;
    if (op < 8) {
      int records = 1 + rng() % 5;
      // Timestamps mostly rise but sometimes go back, as producers' clocks do.
      ts += static_cast<int64_t>(rng() % 30) - 5;
      auto b = make_batch({.records = records,
                           .base_timestamp = ts,
                           .timestamp_step = 2,
                           .value_size = static_cast<size_t>(rng() % 120)});
      int64_t base_offset = next + (rng() % 4 == 0 ? rng() % 3 : 0);  // gaps, as compaction leaves
      protocol::set_base_offset(b, base_offset);
      protocol::BatchExtent e{0, b.size()};
      uint64_t position = seg->size();
      ASSERT_TRUE(seg->append(b, std::span(&e, 1)));
      protocol::BatchView v(b);
      oracle.push_back({base_offset, v.last_offset(), v.max_timestamp(), position, static_cast<uint32_t>(b.size())});
      next = v.last_offset() + 1;
    } else if (op == 8 && rng() % 2) {
      seg = Segment::open(&cache, dir.path(), base, 256);
      ASSERT_TRUE(seg->load());
    } else if (op == 8) {
      // Lazily, as a sealed segment after a clean start: nothing is read
      // until the first lookup.
      seg->seal();
      seg = Segment::open_sealed(&cache, dir.path(), base, 256, next,
                                 oracle.empty() ? 0 : oracle.back().position + oracle.back().size);
      ASSERT_FALSE(seg->loaded());
    } else {
      seg = Segment::open(&cache, dir.path(), base, 256);
      bool cut = true;
      ASSERT_TRUE(seg->recover(cut));
      EXPECT_FALSE(cut);
    }
    check(*seg);
  }
  EXPECT_GT(seg->offset_index().entries().size(), 10u);
  EXPECT_LE(cache.open_count(), 2u);
  EXPECT_GT(cache.stats().evictions, 100u);
}

// A FileSlice-style holder keeps its handle open across evictions, and the
// segment's dirty pin keeps the handle that appended until a sync.
TEST(Segment, PinnedAndHeldHandlesSurviveEviction) {
  TempDir dir;
  FileCache cache(Env::posix(), 1);
  auto seg = Segment::create(&cache, dir.path(), 0, 256);
  ASSERT_TRUE(seg);
  auto b = make_batch({.records = 3});
  protocol::BatchExtent e{0, b.size()};
  ASSERT_TRUE(seg->append(b, std::span(&e, 1)));
  EXPECT_TRUE(seg->pinned());
  auto held = seg->log_file().file;
  // Touch many other files through the same cache.
  for (int i = 0; i < 20; ++i) (void)cache.get(dir.path() / ("other-" + std::to_string(i)), true);
  EXPECT_EQ(seg->log_file().file, held) << "the pinned handle is not evicted";
  EXPECT_NE(::fcntl(held->fd(), F_GETFD), -1);
  ASSERT_TRUE(seg->sync());
  EXPECT_FALSE(seg->pinned());
  // Unpinned but held (a slice on its way to sendfile): still not closed.
  for (int i = 0; i < 20; ++i) (void)cache.get(dir.path() / ("other-" + std::to_string(i)), true);
  EXPECT_NE(::fcntl(held->fd(), F_GETFD), -1);
  std::vector<uint8_t> out(b.size());
  ASSERT_EQ(::pread(held->fd(), out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  EXPECT_EQ(out, b);
  // Released by everyone: evicted, and reads reopen the file.
  std::weak_ptr<FileHandle> weak = held;
  held.reset();
  for (int i = 0; i < 20; ++i) (void)cache.get(dir.path() / ("other-" + std::to_string(i)), true);
  EXPECT_TRUE(weak.expired());
  ASSERT_TRUE(seg->find(1));
  EXPECT_EQ(seg->find(1)->base_offset, 0);
}

}  // namespace
}  // namespace runnel::storage
