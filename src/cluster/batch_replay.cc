#include "cluster/batch_replay.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/endian.h"
#include "protocol/record_batch.h"

namespace runnel::cluster {

void replay_batches(const Partition& partition, const std::function<void(std::span<const uint8_t> batch)>& visit) {
  int64_t offset = partition.log_start_offset().value();
  while (offset < partition.log_end_offset().value()) {
    auto read = partition.read_into_memory(Offset(offset), 1 << 20);
    const int64_t before = offset;
    for (const auto& bytes : read.slices) {
      for (size_t pos = 0; pos + protocol::kBatchHeaderSize <= bytes.size();) {
        const uint8_t* p = bytes.data() + pos;
        size_t size = protocol::kBatchLogOverhead + load_be32(p + 8);
        if (pos + size > bytes.size()) break;
        pos += size;
        // The next read starts past this batch's last offset.
        offset = std::max(offset, static_cast<int64_t>(load_be64(p)) + static_cast<int32_t>(load_be32(p + 23)) + 1);
        visit({p, size});
      }
    }
    // The slices before a failed copy were visited, as they came in order.
    if (read.os_error != 0)
      throw std::runtime_error("short read while loading " + partition.topic() + "-" +
                               std::to_string(partition.index().value()) + ": " + std::strerror(read.os_error));
    if (offset <= before) break;  // nothing readable past this point
  }
}

}  // namespace runnel::cluster
