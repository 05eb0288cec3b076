// libFuzzer target for the log cleaner (storage/log_cleaner.h): the input
// scripts segments of batches (keyed records and tombstones in any codec,
// transactional ones, commit and abort markers, and batches whose records
// are arbitrary bytes under a valid header and CRC, as older or damaged data
// may hold), written straight to segment files; the cleaner then cleans
// them. Nothing may crash; every cleaned segment must hold only valid
// batches, in offset order, inside the offsets it replaces; and when every
// input batch decodes, the latest record of every key that is not a
// tombstone must be kept, and no older record of a key may be.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"
#include "protocol/compression.h"
#include "protocol/compressor.h"
#include "protocol/control_record.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"
#include "scratch_dir.h"
#include "storage/env.h"
#include "storage/log_cleaner.h"
#include "storage/offset_map.h"
#include "storage/segment.h"

namespace {
using namespace runnel;

struct Input {
  const uint8_t* p;
  const uint8_t* end;
  bool empty() const { return p == end; }
  uint8_t byte() { return p == end ? 0 : *p++; }
};

void fix_crc(std::vector<uint8_t>& b) { store_be32(b.data() + 17, crc32c(std::span<const uint8_t>(b).subspan(21))); }

void set_producer(std::vector<uint8_t>& b, int64_t pid, int16_t epoch, int32_t seq, bool txn) {
  store_be16(b.data() + 21, static_cast<uint16_t>(load_be16(b.data() + 21) | (txn ? 0x10 : 0)));
  store_be64(b.data() + 43, static_cast<uint64_t>(pid));
  store_be16(b.data() + 51, static_cast<uint16_t>(epoch));
  store_be32(b.data() + 53, static_cast<uint32_t>(seq));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto dir = fuzz::fresh_partition_dir("fuzz-cleaner");
  auto* env = storage::Env::posix();
  Input in{data, data + size};
  storage::CleanPlan plan;
  plan.dir = dir;
  plan.now_ms = 1000 + in.byte() * 100;
  plan.delete_retention_ms = in.byte() * 10;
  plan.max_group_bytes = 256 + in.byte() * 16;
  plan.index_interval_bytes = 64;

  // Build the segments.
  std::vector<std::vector<uint8_t>> files(1);
  std::vector<int64_t> bases{0};
  int64_t next = 0;
  bool all_decode = true;
  std::map<int64_t, int64_t> open_txn;  // pid -> first offset
  std::map<int64_t, int32_t> next_seq;
  // The oracle: per key, the offset of its latest record outside aborted
  // transactions, and whether that record has a value.
  struct Latest {
    int64_t offset = -1;
    bool value = false;
  };
  std::map<std::string, Latest> latest;
  struct Pending {
    int64_t offset;
    std::string key;
    bool value;
  };
  std::map<int64_t, std::vector<Pending>> pending;  // pid -> records of its open transaction
  auto record = [&latest](const std::string& key, int64_t offset, bool value) {
    if (offset > latest[key].offset) latest[key] = {offset, value};
  };
  int ops = 0;
  while (!in.empty() && ops++ < 64) {
    uint8_t op = in.byte();
    std::vector<uint8_t> batch;
    switch (op % 5) {
      case 0:
      case 1: {  // keyed records
        int n = 1 + in.byte() % 6;
        std::vector<protocol::Record> recs;
        for (int i = 0; i < n; ++i) {
          protocol::Record r;
          uint8_t k = in.byte();
          r.key = std::vector<uint8_t>{static_cast<uint8_t>('a' + k % 12)};
          if (k & 0x80) r.value = std::vector<uint8_t>(k % 7, 'v');
          recs.push_back(std::move(r));
        }
        batch = protocol::build_record_batch(recs, 1000 + in.byte());
        int64_t pid = -1;
        bool txn = false;
        uint8_t mode = in.byte();
        if (mode & 1) {
          pid = mode >> 5;  // 0..7
          txn = mode & 2;
          set_producer(batch, pid, 0, next_seq[pid], txn);
          next_seq[pid] += n;
          if (txn && !open_txn.contains(pid)) open_txn[pid] = next;
        }
        fix_crc(batch);
        int codec = in.byte() % 5;
        if (codec) {
          std::vector<uint8_t> body(batch.begin() + protocol::kBatchHeaderSize, batch.end());
          batch = protocol::recompress_batch(batch, body, codec, protocol::default_compression_level(codec));
        }
        for (int i = 0; i < n; ++i) {
          std::string key(1, static_cast<char>(recs[i].key->front()));
          if (txn)
            pending[pid].push_back({next + i, key, recs[i].value.has_value()});
          else
            record(key, next + i, recs[i].value.has_value());
        }
        break;
      }
      case 2: {  // a marker
        int64_t pid = in.byte() % 8;
        bool commit = in.byte() & 1;
        batch = protocol::build_txn_marker_batch(pid, 0, {commit, 0}, 1000);
        if (auto it = open_txn.find(pid); it != open_txn.end()) {
          if (!commit) plan.aborted.push_back({pid, it->second, next, next});
          open_txn.erase(it);
        }
        if (commit)
          for (const auto& r : pending[pid]) record(r.key, r.offset, r.value);
        pending.erase(pid);
        break;
      }
      case 3: {  // raw records under a valid header
        int n = in.byte() % 4;
        size_t len = in.byte() % 48;
        batch.assign(protocol::kBatchHeaderSize, 0);
        for (size_t i = 0; i < len && !in.empty(); ++i) batch.push_back(in.byte());
        store_be32(batch.data() + 8, static_cast<uint32_t>(batch.size() - 12));
        store_be32(batch.data() + 12, 0);
        batch[16] = 2;
        store_be32(batch.data() + 23, static_cast<uint32_t>(n > 0 ? n - 1 : 0));
        store_be64(batch.data() + 27, 1000);
        store_be64(batch.data() + 35, 1000);
        store_be64(batch.data() + 43, static_cast<uint64_t>(-1));
        store_be16(batch.data() + 51, static_cast<uint16_t>(-1));
        store_be32(batch.data() + 53, static_cast<uint32_t>(-1));
        store_be32(batch.data() + 57, static_cast<uint32_t>(n));
        fix_crc(batch);
        all_decode = false;  // its keys are not in the oracle
        break;
      }
      case 4:  // roll
        if (!files.back().empty()) {
          files.emplace_back();
          bases.push_back(next);
        }
        continue;
    }
    store_be64(batch.data(), static_cast<uint64_t>(next));
    protocol::BatchView v(batch);
    // A gap now and then, as an earlier cleaning leaves.
    next = v.next_offset() + (op >= 250 ? 3 : 0);
    files.back().insert(files.back().end(), batch.begin(), batch.end());
  }
  // Transactions still open count as committed (in a log the LSO would hold
  // them back; the cleaner, not told of an abort, keeps them).
  for (const auto& [_, records] : pending)
    for (const auto& r : records) record(r.key, r.offset, r.value);
  if (files.back().empty() && files.size() > 1) {
    files.pop_back();
    bases.pop_back();
  }
  for (size_t i = 0; i < files.size(); ++i) {
    auto path = dir / (storage::Segment::file_stem(bases[i]) + ".log");
    auto f = env->open(path, true);
    if (!f || !env->pwrite(*f, 0, files[i])) return 0;
    int64_t end = i + 1 < files.size() ? bases[i + 1] : next;
    plan.segments.push_back({bases[i], files[i].size(), std::max(end, bases[i])});
  }
  plan.first_uncleanable = plan.segments.back().end_offset;
  std::sort(plan.aborted.begin(), plan.aborted.end(),
            [](const auto& a, const auto& b) { return a.first_offset < b.first_offset; });

  storage::OffsetMap map(1024);
  storage::LogCleaner cleaner(env, &map);
  std::map<std::string, std::vector<int64_t>> kept;  // key -> offsets kept
  auto result = cleaner.clean(plan, [&](const storage::CleanedGroup& g) {
    std::vector<uint8_t> out;
    auto path = dir / (storage::Segment::file_stem(g.replaced.front().base_offset) + ".log" + storage::kCleanedSuffix);
    if (!env->read_file(path, out) || out.size() != g.size) __builtin_trap();
    std::vector<protocol::BatchExtent> extents;
    if (protocol::split_batches(out, extents) != ErrorCode::NONE) __builtin_trap();
    int64_t last = g.replaced.front().base_offset - 1;
    for (const auto& e : extents) {
      auto b = std::span<const uint8_t>(out).subspan(e.position, e.size);
      if (protocol::validate_batch(b, protocol::BatchOrigin::Replication) != ErrorCode::NONE) __builtin_trap();
      protocol::BatchView v(b);
      if (v.base_offset() <= last || v.last_offset() >= g.end_offset()) __builtin_trap();
      last = v.last_offset();
      if (v.is_control()) continue;
      std::vector<protocol::Record> recs;
      try {
        recs = protocol::decode_record_batch(b);
      } catch (...) {
        if (all_decode) __builtin_trap();
        continue;
      }
      for (const auto& r : recs) {
        if (r.offset < v.base_offset() || r.offset > v.last_offset()) __builtin_trap();
        if (r.key) kept[std::string(r.key->begin(), r.key->end())].push_back(r.offset);
      }
    }
    return storage::LogCleaner::SwapOutcome::Swapped;
  });
  if (result.ok && all_decode && map.latest_offset() >= plan.first_uncleanable - 1) {
    for (const auto& [key, l] : latest) {
      auto it = kept.find(key);
      bool has = it != kept.end() && std::find(it->second.begin(), it->second.end(), l.offset) != it->second.end();
      if (l.value && !has) __builtin_trap();  // the latest value was lost
      if (it != kept.end())
        for (int64_t o : it->second)
          if (o < l.offset) __builtin_trap();  // an older record survived
    }
  }
  return 0;
}
