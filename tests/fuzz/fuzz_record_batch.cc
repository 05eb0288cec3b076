// Splits and validates arbitrary bytes as produce input, then patches every
// batch that validates and checks it still does.
#include <cstdint>
#include <vector>

#include "protocol/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel::protocol;
  std::vector<uint8_t> bytes(data, data + size);
  std::vector<BatchExtent> extents;
  validate_batch(bytes);
  validate_batch(bytes, BatchOrigin::Replication);
  if (split_batches(bytes, extents, 1 << 20) != runnel::ErrorCode::NONE) return 0;
  for (const auto& e : extents) {
    std::span<uint8_t> batch(bytes.data() + e.position, e.size);
    if (validate_batch(batch) != runnel::ErrorCode::NONE) continue;
    BatchView v(batch);
    (void)v.compression();
    set_base_offset(batch, 12345);
    set_partition_leader_epoch(batch, 7);
    set_log_append_time(batch, 99);
    if (validate_batch(batch) != runnel::ErrorCode::NONE) __builtin_trap();
  }
  return 0;
}
