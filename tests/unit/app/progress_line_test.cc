// The progress line: its text, its throttled redraw and its erasure.
#include "app/progress_line.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace runnel::app {
namespace {

TEST(ProgressLine, TextGroupsDigitsAndScalesBytes) {
  EXPECT_EQ(ProgressLine::text("produced", 1234567, 1536, 2.0),
            "produced 1,234,567 records, 1.5 KiB, 617,283 records/s");
  EXPECT_EQ(ProgressLine::text("consumed", 12, 100, 0), "consumed 12 records, 100 B, 0 records/s");
  EXPECT_EQ(ProgressLine::text("consumed", 0, 3 * 1024 * 1024, 1), "consumed 0 records, 3.0 MiB, 0 records/s");
}

TEST(ProgressLine, DrawsAtMostEveryFifthOfASecondAndErasesWhenDone) {
  std::ostringstream err;
  ProgressLine line(err, "produced", true);
  line.add(10, 100);
  EXPECT_EQ(err.str(), "");  // too soon
  std::this_thread::sleep_for(std::chrono::milliseconds(220));
  line.add(5, 50);
  EXPECT_EQ(err.str().rfind("\r\033[Kproduced 15 records, 150 B, ", 0), 0u) << err.str();
  line.finish();
  EXPECT_EQ(err.str().substr(err.str().size() - 4), "\r\033[K");
  auto before = err.str();
  line.finish();
  EXPECT_EQ(err.str(), before);
}

TEST(ProgressLine, DisabledWritesNothing) {
  std::ostringstream err;
  {
    ProgressLine line(err, "consumed", false);
    std::this_thread::sleep_for(std::chrono::milliseconds(220));
    line.add(1, 1);
  }
  EXPECT_EQ(err.str(), "");
}

}  // namespace
}  // namespace runnel::app
