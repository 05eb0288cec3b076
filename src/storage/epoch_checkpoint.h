#pragma once
// The text codec of a partition's `leader-epoch-checkpoint` file, in Kafka's
// own format (its CheckpointFile, as written by LeaderEpochFileCache), so that
// the file reads the same to a Kafka operator:
//
//   0                 version line, always 0
//   <n>               count line: number of entries
//   <epoch> <offset>  n lines: a leader epoch and the offset of its first record
//
// Lines end with '\n'; fields are decimal and separated by one space (spaces
// and tabs are accepted on read, as Kafka's `\s+` split does). The file has no
// checksum: it is only ever replaced whole (temp file, fsync, rename, directory
// fsync), and a file that does not decode is rebuilt from the log's batch
// headers, which carry every batch's leader epoch.
//
// Thread-safety: pure functions.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/types.h"

namespace runnel::storage {

struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;  // offset of the first record written in `epoch`
  friend bool operator==(const EpochEntry&, const EpochEntry&) = default;
};

inline constexpr int kEpochCheckpointVersion = 0;

std::string encode_epoch_checkpoint(const std::vector<EpochEntry>& entries);
// The entries, or nullopt when the text is not a well-formed version-0 file
// whose entries have non-negative epochs and offsets, epochs strictly
// increasing and start offsets non-decreasing (what the cache writes).
std::optional<std::vector<EpochEntry>> decode_epoch_checkpoint(std::string_view text);

}  // namespace runnel::storage
