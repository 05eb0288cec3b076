#include "storage/checkpoint.h"

#include <array>
#include <cstring>

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::storage {
namespace {
constexpr uint8_t kMagic[4] = {'R', 'N', 'C', 'P'};
constexpr size_t kSize = 18;

std::array<uint8_t, kSize> encode(int64_t value) {
  std::array<uint8_t, kSize> bytes{};
  std::memcpy(bytes.data(), kMagic, 4);
  store_be16(bytes.data() + 4, kCheckpointVersion);
  store_be64(bytes.data() + 6, static_cast<uint64_t>(value));
  store_be32(bytes.data() + 14, crc32c(std::span<const uint8_t>(bytes).first(14)));
  return bytes;
}

}  // namespace

std::optional<int64_t> read_checkpoint(Env& env, const std::filesystem::path& path) {
  std::vector<uint8_t> bytes;
  if (!env.read_file(path, bytes) || bytes.size() != kSize) return std::nullopt;
  if (std::memcmp(bytes.data(), kMagic, 4) != 0 || load_be16(bytes.data() + 4) != kCheckpointVersion)
    return std::nullopt;
  if (load_be32(bytes.data() + 14) != crc32c(std::span<const uint8_t>(bytes).first(14))) return std::nullopt;
  return static_cast<int64_t>(load_be64(bytes.data() + 6));
}

bool write_checkpoint(Env& env, const std::filesystem::path& path, int64_t value, bool durable) {
  return env.write_file_atomic(path, encode(value), durable);
}

bool overwrite_checkpoint(Env& env, const std::filesystem::path& path, int64_t value, bool durable) {
  return env.write_file_in_place(path, encode(value), durable);
}

bool clear_checkpoint(Env& env, const std::filesystem::path& path, bool durable) {
  if (!env.exists(path)) return true;
  const std::array<uint8_t, kSize> zeros{};
  return env.write_file_in_place(path, zeros, durable);
}

}  // namespace runnel::storage
