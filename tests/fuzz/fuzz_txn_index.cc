// An aborted-transaction index (`<base>.txnindex`) is read from disk at every
// start: decoding arbitrary bytes must stop at the first entry that is not
// Kafka's, never crash, and what decodes re-encodes to a prefix of the
// input. Bytes holding an entry are also put next to an empty log as its
// first segment's index and the log opened: the replay of the (empty) log
// from its start drops every entry.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "scratch_dir.h"
#include "storage/partition_log.h"
#include "storage/txn_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel;
  std::span<const uint8_t> bytes(data, size);
  bool clean = false;
  auto entries = storage::decode_aborted_txns(bytes, &clean);
  auto again = storage::encode_aborted_txns(entries);
  if (again.size() > size || !std::equal(again.begin(), again.end(), data)) __builtin_trap();
  if (clean != (again.size() == size)) __builtin_trap();
  for (const auto& e : entries)
    if (e.producer_id < 0 || e.first_offset < 0 || e.last_offset < e.first_offset) __builtin_trap();

  // Opening a log is slow: only for inputs that hold at least one entry.
  if (entries.empty()) return 0;
  auto dir = fuzz::fresh_partition_dir("fuzz-txn-index");
  {
    std::ofstream log(dir / "00000000000000000000.log", std::ios::binary | std::ios::trunc);
    std::ofstream out(dir / "00000000000000000000.txnindex", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto log = storage::PartitionLog::open(dir, {}, 0);
  // An empty log replays nothing: the index keeps what decoded, up to the
  // replay start (0), i.e. nothing survives.
  if (!log->aborted_transactions(0, INT64_MAX).empty()) __builtin_trap();
  log->close();
  return 0;
}
