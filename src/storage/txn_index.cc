#include "storage/txn_index.h"

#include "base/endian.h"

namespace runnel::storage {

std::vector<uint8_t> encode_aborted_txns(std::span<const AbortedTxn> entries) {
  std::vector<uint8_t> out(entries.size() * kAbortedTxnSize);
  uint8_t* p = out.data();
  for (const auto& e : entries) {
    store_be16(p, 0);
    store_be64(p + 2, static_cast<uint64_t>(e.producer_id));
    store_be64(p + 10, static_cast<uint64_t>(e.first_offset));
    store_be64(p + 18, static_cast<uint64_t>(e.last_offset));
    store_be64(p + 26, static_cast<uint64_t>(e.last_stable_offset));
    p += kAbortedTxnSize;
  }
  return out;
}

std::vector<AbortedTxn> decode_aborted_txns(std::span<const uint8_t> bytes, bool* clean) {
  std::vector<AbortedTxn> out;
  size_t pos = 0;
  for (; bytes.size() - pos >= kAbortedTxnSize; pos += kAbortedTxnSize) {
    const uint8_t* p = bytes.data() + pos;
    if (load_be16(p) != 0) break;
    AbortedTxn e{static_cast<int64_t>(load_be64(p + 2)), static_cast<int64_t>(load_be64(p + 10)),
                 static_cast<int64_t>(load_be64(p + 18)), static_cast<int64_t>(load_be64(p + 26))};
    if (e.producer_id < 0 || e.first_offset < 0 || e.last_offset < e.first_offset || e.last_stable_offset < 0) break;
    out.push_back(e);
  }
  if (clean) *clean = pos == bytes.size();
  return out;
}

}  // namespace runnel::storage
