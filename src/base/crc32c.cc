#include "base/crc32c.h"

#include <isa-l/crc.h>

namespace runnel {

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc) {
  // ISA-L's crc32_iscsi takes and returns the raw register; the standard CRC-32C
  // pre- and post-inverts, which lets callers chain calls with a plain value.
  return ~crc32_iscsi(const_cast<unsigned char*>(data.data()), static_cast<int>(data.size()), ~crc);
}

}  // namespace runnel
