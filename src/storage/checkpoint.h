#pragma once
// A small file holding one offset that must survive restarts: the log start
// offset (DeleteRecords), the recovery point, the clean-shutdown marker.
//
// Layout (big-endian), 18 bytes:
//   0 magic "RNCP" | 4 version u16 = 1 | 6 value i64 | 14 crc u32 = CRC-32C of bytes 0..13
// A file that is missing, short, of another version or with a bad CRC reads
// as absent, and callers fall back to the safe default (scan more, keep more).
//
// Thread-safety: free functions; callers serialize access to one file.
#include <cstdint>
#include <filesystem>
#include <optional>

#include "storage/env.h"

namespace runnel::storage {

inline constexpr uint16_t kCheckpointVersion = 1;

std::optional<int64_t> read_checkpoint(Env& env, const std::filesystem::path& path);
// Atomic and, unless `durable` is false, durable (see Env::write_file_atomic).
[[nodiscard]] bool write_checkpoint(Env& env, const std::filesystem::path& path, int64_t value, bool durable = true);
// In place (Env::write_file_in_place): for the checkpoints rewritten for
// every partition at each roll or shutdown, whose loss to a torn write (the
// 18 bytes sit in one sector) only makes the next start scan more.
[[nodiscard]] bool overwrite_checkpoint(Env& env, const std::filesystem::path& path, int64_t value,
                                        bool durable = true);
// Overwrites the checkpoint with zeros, in place (it then reads as absent);
// nothing is written when the file does not exist.
[[nodiscard]] bool clear_checkpoint(Env& env, const std::filesystem::path& path, bool durable = true);

}  // namespace runnel::storage
