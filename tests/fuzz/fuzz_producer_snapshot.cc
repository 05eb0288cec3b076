// A producer state snapshot (`<offset>.snapshot`) is read from disk at every
// start: decoding arbitrary bytes must give a table or nullopt, never crash
// or allocate without bound; what decodes re-encodes to the same bytes (a
// version 1 snapshot re-encodes as version 2, which decodes to the same table). The
// bytes that decode are also put in a partition directory as its snapshot,
// next to an empty log, and the log opened (it must use them) and appended
// to by an idempotent producer.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"
#include "scratch_dir.h"
#include "storage/partition_log.h"
#include "storage/producer_state.h"

namespace {
using namespace runnel;

// One uncompressed batch of one record from producer 1, epoch 0, sequence 0.
std::vector<uint8_t> idempotent_batch() {
  std::vector<uint8_t> b(61, 0);
  const uint8_t record[] = {14, 0, 0, 0, 1, 2, 'x', 0};  // length 7 (zigzag 14), attrs, ts, offset, key -1, value "x"
  b.insert(b.end(), record, record + sizeof(record));
  uint8_t* p = b.data();
  store_be32(p + 8, static_cast<uint32_t>(b.size() - 12));
  store_be32(p + 12, static_cast<uint32_t>(-1));
  p[16] = 2;
  store_be64(p + 27, 1000);
  store_be64(p + 35, 1000);
  store_be64(p + 43, 1);
  store_be16(p + 51, 0);
  store_be32(p + 53, 0);
  store_be32(p + 57, 1);
  store_be32(p + 17, crc32c(std::span<const uint8_t>(b).subspan(21)));
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel;
  std::span<const uint8_t> bytes(data, size);
  auto table = storage::ProducerStateTable::decode(bytes);
  if (table) {
    auto again = table->encode();
    const bool v2 = size >= 6 && load_be16(data + 4) == storage::ProducerStateTable::kSnapshotVersion;
    if (v2 && (again.size() != size || !std::equal(again.begin(), again.end(), data))) __builtin_trap();
    if (!v2 && storage::ProducerStateTable::decode(again) != table) __builtin_trap();
    for (const auto& [id, e] : table->producers()) {
      if (id < 0 || e.epoch < 0 || e.batches.size() > storage::ProducerStateTable::kBatchesRetained ||
          e.current_txn_first_offset < -1)
        __builtin_trap();
      // The open transactions are exactly those the entries name.
      if ((e.current_txn_first_offset >= 0) != table->ongoing().contains({e.current_txn_first_offset, id}))
        __builtin_trap();
    }
  }
  // A snapshot that does not decode is only deleted by open() (unit tests
  // cover that): the log is opened for those that do, to keep this fast.
  if (!table) return 0;
  auto dir = fuzz::fresh_partition_dir("fuzz-snapshot");
  {
    std::ofstream out(dir / "00000000000000000000.snapshot", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto log = storage::PartitionLog::open(dir, {}, 0);
  auto batch = idempotent_batch();
  auto r = log->append(batch, LeaderEpoch(0), 1000);
  // Whatever the snapshot said about producer 1: a new epoch-0 batch at
  // sequence 0 is appended, refused as out of order, or a duplicate.
  if (r.error == ErrorCode::NONE && r.base_offset < 0) __builtin_trap();
  log->close();
  return 0;
}
