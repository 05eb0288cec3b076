// Writes arbitrary bytes as the first segment of a partition (and, when the
// input is long enough, some of them as its offset index), opens the log
// (unclean: recovery runs), reads everything back and appends: nothing may
// crash, and what is read must be whole, valid batches.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "scratch_dir.h"
#include "storage/partition_log.h"

namespace {

void write(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel;
  auto dir = fuzz::fresh_partition_dir("fuzz-log");
  // The first byte chooses how many bytes (x8) go to the index file.
  size_t index_bytes = size ? std::min<size_t>(size - 1, size_t(data[0] % 8) * 8) : 0;
  if (size) {
    write(dir / "00000000000000000000.index", data + 1, index_bytes);
    write(dir / "00000000000000000000.log", data + 1 + index_bytes, size - 1 - index_bytes);
  }
  storage::LogConfig config;
  config.index_interval_bytes = 64;
  auto log = storage::PartitionLog::open(dir, config, 0);
  auto r = log->read(log->log_start_offset(), UINT64_MAX, true, log->log_end_offset());
  int64_t expect = log->log_start_offset();
  for (const auto& s : r.slices) {
    std::vector<uint8_t> buf(s.length);
    if (::pread(s.file->fd(), buf.data(), buf.size(), static_cast<off_t>(s.position)) != ssize_t(buf.size()))
      __builtin_trap();
    std::vector<protocol::BatchExtent> extents;
    if (protocol::split_batches(buf, extents) != ErrorCode::NONE) __builtin_trap();
    for (auto& e : extents) {
      std::span<const uint8_t> b(buf.data() + e.position, e.size);
      if (protocol::validate_batch(b, protocol::BatchOrigin::Replication) != ErrorCode::NONE) __builtin_trap();
      if (protocol::BatchView(b).base_offset() < expect) __builtin_trap();
      expect = protocol::BatchView(b).next_offset();
    }
  }
  for (int64_t o = log->log_start_offset(); o <= log->log_end_offset() && o < 64; ++o) log->read(o, 100, true, o + 1);
  log->offset_for_timestamp(0);
  log->max_timestamp_and_offset();
  log->close();
  return 0;
}
