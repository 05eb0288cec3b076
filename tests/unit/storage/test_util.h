#pragma once
// Helpers for storage tests: a v2 record batch encoder (independent of the
// broker's own codec, so the two check each other) and a temporary directory.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::testing {

struct BatchSpec {
  int records = 1;
  int64_t base_timestamp = 1000;
  int64_t timestamp_step = 1;  // record i has base_timestamp + i * step
  int16_t attributes = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  size_t value_size = 10;
  std::string key{};  // every record's key; "": null
};

inline void put_varlong(std::vector<uint8_t>& out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<uint8_t>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<uint8_t>(z));
}

inline std::vector<uint8_t> make_batch(const BatchSpec& s = {}) {
  std::vector<uint8_t> b(61, 0);
  for (int i = 0; i < s.records; ++i) {
    std::vector<uint8_t> rec;
    rec.push_back(0);                                  // attributes
    put_varlong(rec, i * s.timestamp_step);            // timestamp delta
    put_varlong(rec, i);                               // offset delta
    if (s.key.empty()) {
      put_varlong(rec, -1);  // null key
    } else {
      put_varlong(rec, static_cast<int64_t>(s.key.size()));
      rec.insert(rec.end(), s.key.begin(), s.key.end());
    }
    put_varlong(rec, static_cast<int64_t>(s.value_size));
    for (size_t k = 0; k < s.value_size; ++k) rec.push_back(static_cast<uint8_t>('a' + (i + k) % 26));
    put_varlong(rec, 0);                               // no headers
    put_varlong(b, static_cast<int64_t>(rec.size()));
    b.insert(b.end(), rec.begin(), rec.end());
  }
  uint8_t* p = b.data();
  store_be64(p, 0);
  store_be32(p + 8, static_cast<uint32_t>(b.size() - 12));
  store_be32(p + 12, static_cast<uint32_t>(-1));
  p[16] = 2;
  store_be16(p + 21, static_cast<uint16_t>(s.attributes));
  store_be32(p + 23, static_cast<uint32_t>(s.records - 1));
  int64_t max_ts = s.base_timestamp + (s.records > 0 ? (s.records - 1) * s.timestamp_step : 0);
  store_be64(p + 27, static_cast<uint64_t>(s.base_timestamp));
  store_be64(p + 35, static_cast<uint64_t>(max_ts));
  store_be64(p + 43, static_cast<uint64_t>(s.producer_id));
  store_be16(p + 51, static_cast<uint16_t>(s.producer_epoch));
  store_be32(p + 53, static_cast<uint32_t>(s.base_sequence));
  store_be32(p + 57, static_cast<uint32_t>(s.records));
  store_be32(p + 17, crc32c(std::span<const uint8_t>(b).subspan(21)));
  return b;
}

inline void fix_crc(std::vector<uint8_t>& b) {
  store_be32(b.data() + 17, crc32c(std::span<const uint8_t>(b).subspan(21)));
}

class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& under = std::filesystem::temp_directory_path()) {
    std::string tmpl = (under / "runnel-storage-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace runnel::testing

#include <gtest/gtest.h>

#include "protocol/record_batch.h"
#include "storage/env.h"
#include "storage/partition_log.h"

namespace runnel::testing {

// The batches a read returned, copied out of its file slices.
struct ReadBatch {
  int64_t base_offset;
  int64_t last_offset;
  int64_t max_timestamp;
  std::vector<uint8_t> bytes;
};

inline std::vector<ReadBatch> read_batches(const storage::ReadResult& r) {
  std::vector<ReadBatch> out;
  for (const auto& s : r.slices) {
    std::vector<uint8_t> buf(s.length);
    if (s.length && ::pread(s.file->fd(), buf.data(), buf.size(), static_cast<off_t>(s.position)) !=
                        static_cast<ssize_t>(buf.size()))
      return {};
    std::vector<protocol::BatchExtent> extents;
    if (protocol::split_batches(buf, extents) != ErrorCode::NONE) return {};
    for (auto& e : extents) {
      std::vector<uint8_t> b(buf.begin() + e.position, buf.begin() + e.position + e.size);
      protocol::BatchView v(b);
      out.push_back({v.base_offset(), v.last_offset(), v.max_timestamp(), std::move(b)});
    }
  }
  return out;
}

// Syncs the files sync_handles() names and reports the request done, as the
// flusher does for acks=all; with `syncfs_under`, by one syncfs of the file
// system holding that directory instead, as a busy flusher does. `durable`
// (optional) gets the offset the request made durable.
inline void sync_now(storage::PartitionLog& log, storage::Env& env, const std::filesystem::path* syncfs_under = nullptr,
                     int64_t* durable = nullptr) {
  auto request = log.sync_handles();
  if (syncfs_under) {
    auto any = env.open_dir(*syncfs_under);
    ASSERT_TRUE(any && env.sync_filesystem(*any));
  } else {
    for (auto& f : request.files) ASSERT_TRUE(f && env.sync(*f));
  }
  log.mark_flushed(request.durable_offset, request.sealed_below);
  if (durable) *durable = request.durable_offset;
}

// Reads the whole log from its start, batch by batch.
inline std::vector<ReadBatch> read_all(const storage::PartitionLog& log) {
  auto r = log.read(log.log_start_offset(), UINT64_MAX, true, log.log_end_offset());
  return read_batches(r);
}

}  // namespace runnel::testing
