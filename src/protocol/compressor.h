#pragma once
// Compression of record batch bodies with Kafka's four codecs, in the framing
// Kafka's own producer writes (gzip with its header, snappy in xerial's
// framing, lz4 frames of independent 64 KiB blocks, zstd frames), and the
// recompression of a produced batch into a topic's compression.type. The
// records inside are kept byte for byte (their offset and timestamp deltas
// are relative to the header, which keeps its base offset, timestamps and
// producer fields): only the codec bits, the length and the CRC change.
// Thread-safety: pure functions; safe from any thread.
#include <cstdint>
#include <span>
#include <vector>

namespace runnel::protocol {

// codec: 1 gzip, 2 snappy, 3 lz4, 4 zstd. `level`: Kafka's
// compression.<codec>.level (gzip 1-9 or -1 for zlib's default, lz4 1-17,
// zstd -131072-22). Throws std::runtime_error when the library fails.
std::vector<uint8_t> compress(int codec, std::span<const uint8_t> input, int level);

// Kafka's default level of each codec (compression.<codec>.level).
int default_compression_level(int codec);

// `batch` (one valid v2 record batch) with its body in `codec` (0: none),
// given its records uncompressed (`records`: the body itself for an
// uncompressed batch, else as decompress() gave them).
std::vector<uint8_t> recompress_batch(std::span<const uint8_t> batch, std::span<const uint8_t> records, int codec,
                                      int level);

}  // namespace runnel::protocol
