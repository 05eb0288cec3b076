// Produce v0-2 message sets (magic 0 and 1) come from the network and are
// up-converted to a record batch: whatever the bytes, the conversion returns
// a batch or an error, never crashes, hangs or allocates without bound, and a
// batch it returns is a valid v2 batch whose records decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = runnel::protocol::upconvert_message_set(std::span<const uint8_t>(data, size));
  if (result.error != runnel::ErrorCode::NONE) return 0;
  if (runnel::protocol::validate_batch(result.batch) != runnel::ErrorCode::NONE) std::abort();
  if (runnel::protocol::decode_record_batch(result.batch).empty()) std::abort();
  return 0;
}
