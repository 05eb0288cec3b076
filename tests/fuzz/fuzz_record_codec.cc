// Decoding the records inside arbitrary record batch bytes (any codec) must
// either succeed or throw DecodeError: never crash, hang or blow up memory.
#include <cstddef>
#include <cstdint>

#include "protocol/reader.h"
#include "protocol/record_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    runnel::protocol::decode_record_batch({data, size});
  } catch (const runnel::protocol::DecodeError&) {
  }
  return 0;
}
