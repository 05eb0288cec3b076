// Splits and validates arbitrary bytes as produce input, header checks and the
// full record validator (batch_validator.h), then patches every batch that
// validates as the log does and checks it still validates, with the same
// records and the header's max timestamp now the records' own.
#include <cstdint>
#include <vector>

#include "protocol/batch_validator.h"
#include "protocol/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel::protocol;
  using runnel::ErrorCode;
  std::vector<uint8_t> bytes(data, data + size);
  std::vector<BatchExtent> extents;
  std::vector<uint8_t> scratch;
  // The first byte picks the topic's rules, so both timestamp types and tight
  // and loose timestamp windows get explored.
  BatchValidationConfig config;
  if (size) {
    config.log_append_time = data[0] & 1;
    config.compacted = data[0] & 2;
    config.now_ms = (data[0] & 4) ? 1'700'000'000'000 : 0;
    if (data[0] & 8) config.timestamp_before_max_ms = config.timestamp_after_max_ms = 1000;
    config.max_inflated_bytes = 1 << 20;
  }
  validate_batch(bytes);
  validate_batch(bytes, BatchOrigin::Replication);
  validate_produced_batch(bytes, config, scratch);
  max_timestamp_from_records(bytes, scratch);
  if (split_batches(bytes, extents, 1 << 20) != ErrorCode::NONE) return 0;
  for (const auto& e : extents) {
    std::span<uint8_t> batch(bytes.data() + e.position, e.size);
    auto first = validate_produced_batch(batch, config, scratch);
    if (first.error != ErrorCode::NONE) {
      if (first.message.empty()) __builtin_trap();  // every refusal says why
      continue;
    }
    if (validate_batch(batch) != ErrorCode::NONE) __builtin_trap();
    if (first.max_timestamp >= 0 && first.offset_delta_of_max_timestamp < 0) __builtin_trap();
    BatchView v(batch);
    (void)v.compression();
    set_base_offset(batch, 12345);
    set_partition_leader_epoch(batch, 7);
    if (config.log_append_time) {
      set_log_append_time(batch, 99);
    } else {
      set_max_timestamp(batch, first.max_timestamp);
      if (v.max_timestamp() != first.max_timestamp) __builtin_trap();
      auto stored = max_timestamp_from_records(batch, scratch);
      if (!stored || *stored != first.max_timestamp) __builtin_trap();
      auto again = validate_produced_batch(batch, config, scratch);
      if (again.error != ErrorCode::NONE || again.max_timestamp != first.max_timestamp) __builtin_trap();
    }
    if (validate_batch(batch) != ErrorCode::NONE) __builtin_trap();
  }
  return 0;
}
