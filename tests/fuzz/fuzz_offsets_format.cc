// The records of __consumer_offsets are read back from disk at start-up, and
// consumer subscriptions arrive in JoinGroup: decoding arbitrary bytes as any
// of them must succeed or throw DecodeError, never crash, hang or allocate
// without bound.
#include <cstddef>
#include <cstdint>

#include "group/consumer_group_records.h"
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
  // Kafka's KIP-848 records (types 3-8) applied onto an image, as a load does.
  for (int16_t type = 3; type <= 8; ++type) {
    std::optional<runnel::group::ConsumerGroupValue> image;
    try {
      runnel::group::apply_consumer_group_record({type, "g", "m"}, bytes, image);
      runnel::group::apply_consumer_group_record({type, "g", "m"}, bytes, image);
    } catch (const runnel::protocol::DecodeError&) {
    }
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
