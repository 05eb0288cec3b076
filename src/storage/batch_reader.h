#pragma once
// Copies record batches out of a PartitionLog into memory, for the broker's
// readers that need the bytes themselves rather than a slice to sendfile: the
// group coordinator replaying __consumer_offsets at start-up, and ListOffsets
// decoding the batch a timestamp falls in (Fetch sends PartitionLog::read's
// slices as they are). It reads through the log's own Env, so that those reads
// see what the storage engine sees (a FaultInjectionEnv in tests) and report
// their errno, instead of each caller issuing its own ::pread.
//
// A free function over PartitionLog::read rather than a PartitionLog method:
// the log stays the one owner of slices and indexes, and this is only I/O.
//
// Thread-safety: as PartitionLog: call it on the log's owning shard. The
// bytes returned are the caller's.
#include <cstdint>
#include <vector>

#include "base/error_code.h"
#include "storage/partition_log.h"

namespace runnel::storage {

struct BatchRead {
  // As ReadResult::error (OFFSET_OUT_OF_RANGE, or KAFKA_STORAGE_ERROR when a
  // segment cannot be opened), and KAFKA_STORAGE_ERROR when a copy failed.
  ErrorCode error = ErrorCode::NONE;
  // errno of the failed pread (EIO when the file was shorter than the slice);
  // 0 when every copy succeeded.
  int os_error = 0;
  // One buffer per slice PartitionLog::read returned (a run of whole batches
  // in one segment file), in log order. On a failed copy, those before it.
  std::vector<std::vector<uint8_t>> slices;
};

// PartitionLog::read(offset, max_bytes, min_one, limit_offset), with every
// slice copied into memory through log.env().
[[nodiscard]] BatchRead read_batches(const PartitionLog& log, int64_t offset, uint64_t max_bytes, bool min_one,
                                     int64_t limit_offset);

}  // namespace runnel::storage
