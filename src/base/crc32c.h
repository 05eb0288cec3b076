#pragma once
// CRC-32C (Castagnoli), the checksum Kafka's record batch v2 uses. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <span>

namespace runnel {

// Returns the CRC-32C of `data`, continuing from `crc` (0 for a fresh checksum).
uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace runnel
