#include "storage/batch_reader.h"

#include <cerrno>

namespace runnel::storage {

BatchRead read_batches(const PartitionLog& log, int64_t offset, uint64_t max_bytes, bool min_one,
                       int64_t limit_offset) {
  auto read = log.read(offset, max_bytes, min_one, limit_offset);
  BatchRead out;
  out.error = read.error;
  for (const auto& slice : read.slices) {
    std::vector<uint8_t> bytes(slice.length);
    errno = 0;
    if (!log.env().pread(*slice.file, slice.position, bytes)) {
      // Env::pread leaves errno at 0 on a short read (end of file).
      out.os_error = errno != 0 ? errno : EIO;
      out.error = ErrorCode::KAFKA_STORAGE_ERROR;
      break;
    }
    out.slices.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace runnel::storage
