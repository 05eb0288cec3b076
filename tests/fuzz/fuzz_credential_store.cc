// The SCRAM credential file (DATA/meta/scram-credentials): decoding arbitrary
// bytes gives the users or nullopt, never a crash, and what decodes
// re-encodes to something that decodes the same.
#include <cstddef>
#include <cstdint>
#include <span>

#include "security/credential_store.h"

using namespace runnel::security;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (auto users = decode_credentials(bytes)) {
    auto again = decode_credentials(encode_credentials(*users));
    if (!again || *again != *users) __builtin_trap();
  }
  return 0;
}
