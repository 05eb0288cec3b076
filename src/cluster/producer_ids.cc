#include "cluster/producer_ids.h"

#include <memory>

#include "storage/checkpoint.h"

namespace runnel::cluster {

std::optional<int64_t> ProducerIdAllocator::next() {
  std::lock_guard lock(mu_);
  if (next_ >= limit_) {
    auto first = reserve_(kBlockSize);
    if (!first || *first < 0) return std::nullopt;
    next_ = *first;
    limit_ = *first + kBlockSize;
  }
  return next_++;
}

ProducerIdAllocator::ReserveBlock file_block_reserver(storage::Env& env, std::filesystem::path path) {
  // The value last written, kept so that a read failure after a successful
  // write can never hand out a block twice.
  auto written = std::make_shared<int64_t>(-1);
  return [&env, path = std::move(path), written](int64_t size) -> std::optional<int64_t> {
    int64_t first = storage::read_checkpoint(env, path).value_or(0);
    if (first < *written) first = *written;
    if (!storage::write_checkpoint(env, path, first + size)) return std::nullopt;
    *written = first + size;
    return first;
  };
}

}  // namespace runnel::cluster
