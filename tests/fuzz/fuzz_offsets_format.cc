// The records of __consumer_offsets are read back from disk at start-up, and
// consumer subscriptions arrive in JoinGroup: decoding arbitrary bytes as any
// of them must succeed or throw DecodeError, never crash, hang or allocate
// without bound.
#include <cstddef>
#include <cstdint>

#include "group/offsets_format.h"
#include "protocol/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes{data, size};
  try {
    runnel::group::decode_key(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  try {
    runnel::group::decode_group_value(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  try {
    runnel::group::decode_consumer_group_value(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  try {
    runnel::group::decode_offset_value(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  try {
    runnel::group::decode_subscription_topics(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  return 0;
}
