// The file copy behind a move between log directories: early passes while
// the log grows, a last pass that tops the segments up (the active one too)
// and copies the other files whole, and an exact pass after a cut.
#include "cluster/replica_copy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "storage/test_util.h"

namespace runnel::cluster {
namespace {

class ReplicaCopyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(std::filesystem::create_directories(from_)); }

  static void write(const std::filesystem::path& path, const std::string& bytes, bool append) {
    std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    out << bytes;
  }
  // Writes over `bytes.size()` bytes at `at`, in place (same inode).
  static void overwrite(const std::filesystem::path& path, size_t at, const std::string& bytes) {
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out << bytes;
  }
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void expect_same_files() {
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(from_)) {
      ++files;
      EXPECT_EQ(read(to_ / entry.path().filename()), read(entry.path())) << entry.path().filename();
    }
    EXPECT_EQ(static_cast<size_t>(std::distance(std::filesystem::directory_iterator(to_), {})), files);
  }

  runnel::testing::TempDir root_;
  const std::filesystem::path from_ = root_.path() / "t-0";
  const std::filesystem::path to_ = root_.path() / "t-0.x-future";
};

TEST_F(ReplicaCopyTest, TheLastPassTopsUpEverySegmentAndCopiesTheRestWhole) {
  write(from_ / "00000000000000000000.log", std::string(4096, 'a'), false);
  write(from_ / "00000000000000000100.log", std::string(1000, 'b'), false);  // the active segment
  write(from_ / "00000000000000000100.index", std::string(16, 'i'), false);
  write(from_ / "old.snapshot", "x", false);
  ReplicaCopy copy(from_, to_);
  std::string error;
  ASSERT_TRUE(copy.pass(false, false, &error)) << error;
  const uint64_t early = copy.bytes_copied();
  EXPECT_EQ(early, 4096u + 1000 + 16 + 1);

  write(from_ / "00000000000000000100.log", std::string(500, 'c'), true);  // appended since
  overwrite(from_ / "00000000000000000100.index", 0, "JJ");                // rewritten in place (a rebuilt index)
  std::filesystem::remove(from_ / "old.snapshot");                         // gone from the original
  ASSERT_TRUE(copy.pass(true, false, &error)) << error;
  // Only the appended bytes of the segments, and the index whole.
  EXPECT_EQ(copy.bytes_copied() - early, 500u + 16);
  ASSERT_TRUE(copy.sync(&error)) << error;
  expect_same_files();
}

TEST_F(ReplicaCopyTest, AnExactPassCopiesSegmentsWrittenOverAfterACut) {
  // A failed append is cut back and written over by the next one: the same
  // inode, as long as before or longer, other bytes. The move sees the cut
  // (Partition::truncations) and asks for an exact pass.
  write(from_ / "00000000000000000000.log", std::string(1000, 'a') + std::string(200, 'F'), false);
  ReplicaCopy copy(from_, to_);
  std::string error;
  ASSERT_TRUE(copy.pass(false, false, &error)) << error;
  std::filesystem::resize_file(from_ / "00000000000000000000.log", 1000);
  write(from_ / "00000000000000000000.log", std::string(300, 'g'), true);
  ASSERT_TRUE(copy.pass(true, /*exact=*/true, &error)) << error;
  expect_same_files();
}

}  // namespace
}  // namespace runnel::cluster
