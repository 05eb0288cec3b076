// The consumer protocol's subscription (JoinGroup metadata) and assignment
// (SyncGroup) arrive from the network: decoding returns or throws
// DecodeError, never crashes; what decodes encodes and decodes again to
// the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocol/consumer_protocol.h"
#include "protocol/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  using namespace runnel::protocol;
  try {
    auto topics = decode_consumer_subscription(bytes);
    if (decode_consumer_subscription(encode_consumer_subscription(topics)) != topics) std::abort();
  } catch (const DecodeError&) {
  }
  try {
    // The full decoder (mixed groups): its topics agree with the short one's.
    auto full = decode_consumer_subscription_full(bytes);
    if (decode_consumer_subscription(bytes) != full.topics) std::abort();
  } catch (const DecodeError&) {
  }
  try {
    auto assignment = decode_consumer_assignment(bytes);
    if (decode_consumer_assignment(encode_consumer_assignment(assignment)) != assignment) std::abort();
  } catch (const DecodeError&) {
  }
  return 0;
}
