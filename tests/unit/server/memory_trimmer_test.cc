// MemoryTrimmer: trims only once enough connections closed, or enough request
// buffers were freed, since the last trim, so a broker without churn never
// calls malloc_trim.
#include "server/memory_trimmer.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <memory>
#include <vector>

namespace runnel {
namespace {

TEST(MemoryTrimmer, TrimsOnlyAfterEnoughClosedConnections) {
  MemoryTrimmer trimmer(std::chrono::hours(1), 100, uint64_t(1) << 40);
  EXPECT_FALSE(trimmer.trim_if_due());
  for (int i = 0; i < 99; ++i) MemoryTrimmer::note_connection_closed();
  EXPECT_FALSE(trimmer.trim_if_due());
  MemoryTrimmer::note_connection_closed();
  // Something to give back: many small blocks, freed.
  {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 20000; ++i) blocks.emplace_back(new char[1000]);
  }
  EXPECT_TRUE(trimmer.trim_if_due());
  EXPECT_FALSE(trimmer.trim_if_due());  // counted from the last trim
}

TEST(MemoryTrimmer, TrimsOnlyAfterEnoughRequestBytesFreed) {
  MemoryTrimmer trimmer(std::chrono::hours(1), 1000000, 64 << 20);
  EXPECT_FALSE(trimmer.trim_if_due());
  MemoryTrimmer::note_request_bytes_freed((64 << 20) - 1);
  EXPECT_FALSE(trimmer.trim_if_due());
  MemoryTrimmer::note_request_bytes_freed(1);
  const uint64_t trims = MemoryTrimmer::trims();
  EXPECT_TRUE(trimmer.trim_if_due());
  EXPECT_EQ(MemoryTrimmer::trims(), trims + 1);
  EXPECT_FALSE(trimmer.trim_if_due());  // counted from the last trim
}

TEST(MemoryTrimmer, StartsAndStopsItsThread) {
  MemoryTrimmer trimmer(std::chrono::milliseconds(1), 1, 1);
  trimmer.start();
  MemoryTrimmer::note_connection_closed();
  trimmer.stop();
  trimmer.stop();  // idempotent
}

}  // namespace
}  // namespace runnel
