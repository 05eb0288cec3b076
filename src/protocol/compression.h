#pragma once
// Decompression of record batch bodies with Kafka's four codecs, for the few
// places the broker must look inside a compressed batch (validating a produced
// batch's records, the exact offset of a timestamp, the broker's own topics).
// Fetch never decompresses, and nothing is ever recompressed.
// Thread-safety: safe from any thread; each thread keeps one reusable
// decompression context per codec (thread_local).
#include <cstdint>
#include <span>
#include <vector>

namespace runnel::protocol {

// codec: 1 gzip, 2 snappy (raw, or Kafka's xerial framing), 3 lz4 (frame
// format), 4 zstd. Throws DecodeError on corrupt input, an unknown codec, or
// output beyond `max_output` bytes (a decompression bomb).
std::vector<uint8_t> decompress(int codec, std::span<const uint8_t> input, size_t max_output = 256u << 20);
// The same into `out` (cleared first), reusing its capacity: the produce path
// keeps one buffer per partition log instead of allocating per batch.
void decompress_into(int codec, std::span<const uint8_t> input, std::vector<uint8_t>& out,
                     size_t max_output = 256u << 20);

}  // namespace runnel::protocol
