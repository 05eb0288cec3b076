// The records of __transaction_state are read back from disk when a broker
// takes over one of its partitions: decoding arbitrary bytes as a key or a
// value must succeed or throw DecodeError, never crash, hang or allocate
// without bound. What decodes must encode again and decode to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/reader.h"
#include "txn/txn_log_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes{data, size};
  try {
    runnel::txn::decode_txn_key(bytes);
  } catch (const runnel::protocol::DecodeError&) {
  }
  try {
    auto v = runnel::txn::decode_txn_value(bytes);
    auto again = runnel::txn::decode_txn_value(runnel::txn::encode_txn_value(v));
    if (again.producer_id != v.producer_id || again.partitions != v.partitions || again.state != v.state) abort();
  } catch (const runnel::protocol::DecodeError&) {
  }
  return 0;
}
