#include "storage/batch_reader.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>

#include "protocol/record_batch.h"
#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::BatchSpec;
using testing::make_batch;
using testing::TempDir;

// The POSIX Env, except that a pread of more than `fail_reads_over` bytes
// fails with EIO: the log still finds its batches (it reads their headers,
// which are smaller), and copying a whole batch fails.
class FailingReadEnv final : public Env {
 public:
  size_t fail_reads_over = SIZE_MAX;

  std::shared_ptr<FileHandle> open(const std::filesystem::path& path, bool create) override {
    return base_->open(path, create);
  }
  bool pread(const FileHandle& file, uint64_t position, std::span<uint8_t> out) override {
    if (out.size() <= fail_reads_over) return base_->pread(file, position, out);
    errno = EIO;
    return false;
  }
  bool pwrite(const FileHandle& file, uint64_t position, std::span<const uint8_t> data) override {
    return base_->pwrite(file, position, data);
  }
  bool sync(const FileHandle& file) override { return base_->sync(file); }
  bool sync_dir(const std::filesystem::path& dir) override { return base_->sync_dir(dir); }
  bool truncate(const FileHandle& file, uint64_t size) override { return base_->truncate(file, size); }
  int64_t size(const FileHandle& file) override { return base_->size(file); }
  bool rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    return base_->rename(from, to);
  }
  bool remove(const std::filesystem::path& path) override { return base_->remove(path); }
  bool exists(const std::filesystem::path& path) override { return base_->exists(path); }
  bool create_dirs(const std::filesystem::path& dir) override { return base_->create_dirs(dir); }
  std::vector<std::string> list(const std::filesystem::path& dir) override { return base_->list(dir); }

 private:
  Env* base_ = Env::posix();
};

TEST(BatchReader, CopiesWhatReadSlices) {
  TempDir dir;
  auto log = PartitionLog::open(dir.path(), {}, 0);
  for (int i = 0; i < 3; ++i) {
    auto b = make_batch({.records = 2});
    ASSERT_EQ(log->append(b, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
  }
  auto read = read_batches(*log, 0, 1 << 20, true, log->log_end_offset());
  EXPECT_EQ(read.error, ErrorCode::NONE);
  EXPECT_EQ(read.os_error, 0);
  auto slices = log->read(0, 1 << 20, true, log->log_end_offset()).slices;
  ASSERT_EQ(read.slices.size(), slices.size());
  uint64_t total = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    EXPECT_EQ(read.slices[i].size(), slices[i].length);
    total += read.slices[i].size();
  }
  EXPECT_EQ(total, log->size_bytes());
  // The one batch that holds offset 3 (the second).
  auto one = read_batches(*log, 3, 1, true, log->log_end_offset());
  ASSERT_EQ(one.slices.size(), 1u);
  EXPECT_EQ(one.slices[0].size(), total / 3);
  // Past the end: the log's own error, nothing read.
  auto past = read_batches(*log, 7, 1 << 20, true, log->log_end_offset());
  EXPECT_EQ(past.error, ErrorCode::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(past.os_error, 0);
  EXPECT_TRUE(past.slices.empty());
}

TEST(BatchReader, ReportsTheErrnoOfAFailedRead) {
  TempDir dir;
  FailingReadEnv env;
  auto log = PartitionLog::open(dir.path(), {}, 0, &env);
  auto b = make_batch({.records = 2});
  ASSERT_EQ(log->append(b, LeaderEpoch(0), 5000).error, ErrorCode::NONE);
  env.fail_reads_over = protocol::kBatchHeaderSize;
  auto read = read_batches(*log, 0, 1 << 20, true, log->log_end_offset());
  EXPECT_EQ(read.error, ErrorCode::KAFKA_STORAGE_ERROR);
  EXPECT_EQ(read.os_error, EIO);
  EXPECT_TRUE(read.slices.empty());
  EXPECT_EQ(log->read(0, 1 << 20, true, log->log_end_offset()).slices.size(), 1u);
}

}  // namespace
}  // namespace runnel::storage
