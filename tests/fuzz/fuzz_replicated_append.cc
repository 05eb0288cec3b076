// libFuzzer target for a follower's append (PartitionLog::append_replicated):
// arbitrary bytes arrive as the records of a Fetch response from a leader.
// Nothing may crash; a refused input leaves the log as it was; what is taken
// must be whole, valid batches continuing the log with offsets only going up
// (gaps are what a compacted leader has), each epoch
// in the epoch cache from its first batch on; and the log, dropped without a
// clean close, must recover to the same end.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "scratch_dir.h"
#include "storage/partition_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel;
  auto dir = fuzz::fresh_partition_dir("fuzz-replicated");
  storage::LogConfig config;
  config.index_interval_bytes = 64;
  config.segment_bytes = 4096;  // small: long inputs roll segments
  auto log = storage::PartitionLog::open(dir, config, 0);
  std::span<const uint8_t> bytes(data, size);
  auto result = log->append_replicated(bytes, 0);
  const int64_t end = log->log_end_offset();
  if (result.error != ErrorCode::NONE || result.last_offset < 0) {
    if (end != 0) __builtin_trap();  // refused or nothing whole: nothing written
  } else {
    if (result.base_offset != 0 || end != result.last_offset + 1) __builtin_trap();
    auto r = log->read(0, UINT64_MAX, true, end);
    int64_t expect = 0;
    for (const auto& s : r.slices) {
      std::vector<uint8_t> buf(s.length);
      if (::pread(s.file->fd(), buf.data(), buf.size(), static_cast<off_t>(s.position)) != ssize_t(buf.size()))
        __builtin_trap();
      std::vector<protocol::BatchExtent> extents;
      if (protocol::split_batches(buf, extents) != ErrorCode::NONE) __builtin_trap();
      for (auto& e : extents) {
        protocol::BatchView v(std::span<const uint8_t>(buf.data() + e.position, e.size));
        if (v.base_offset() < expect) __builtin_trap();
        int32_t epoch = v.partition_leader_epoch();
        if (epoch >= 0 && log->end_offset_for_epoch(LeaderEpoch(epoch)).epoch != LeaderEpoch(epoch)) __builtin_trap();
        expect = v.next_offset();
      }
    }
    if (expect != end) __builtin_trap();
  }
  // Dropped without a clean close, as by a crash (the page cache keeps the
  // writes): recovery must find the same log end.
  log.reset();
  auto reopened = storage::PartitionLog::open(dir, config, 0);
  if (reopened->log_end_offset() != end) __builtin_trap();
  return 0;
}
