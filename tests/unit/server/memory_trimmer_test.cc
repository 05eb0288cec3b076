// MemoryTrimmer: trims only once enough connections closed since the last
// trim, so a broker without connection churn never calls malloc_trim.
#include "server/memory_trimmer.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <memory>
#include <vector>

namespace runnel {
namespace {

TEST(MemoryTrimmer, TrimsOnlyAfterEnoughClosedConnections) {
  MemoryTrimmer trimmer(std::chrono::hours(1), 100);
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

TEST(MemoryTrimmer, StartsAndStopsItsThread) {
  MemoryTrimmer trimmer(std::chrono::milliseconds(1), 1);
  trimmer.start();
  MemoryTrimmer::note_connection_closed();
  trimmer.stop();
  trimmer.stop();  // idempotent
}

}  // namespace
}  // namespace runnel
