// The leader-epoch-checkpoint file is read from disk at every start: decoding
// arbitrary bytes must return entries or nullopt, never crash, hang or
// allocate without bound. What it accepts must satisfy the cache's invariants
// and survive an encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/epoch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = runnel::storage::decode_epoch_checkpoint(text);
  if (!entries) return 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto& e = (*entries)[i];
    if (e.epoch.value() < 0 || e.start_offset.value() < 0) std::abort();
    if (i > 0 && (e.epoch <= (*entries)[i - 1].epoch || e.start_offset < (*entries)[i - 1].start_offset)) std::abort();
  }
  auto again = runnel::storage::decode_epoch_checkpoint(runnel::storage::encode_epoch_checkpoint(*entries));
  if (!again || *again != *entries) std::abort();
  return 0;
}
