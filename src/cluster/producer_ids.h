#pragma once
// Producer ids for InitProducerId, unique for the life of the data (Kafka's
// ProducerIdManager): handed out from blocks of kBlockSize, each block
// reserved durably before its first id is used, so that no id is given twice
// across restarts (the rest of a block in use at a crash is skipped). On a
// single node the reservation is a checkpoint file in the data dir
// (`meta/producer-id-block`, FORMAT.md); in a cluster a fenced etcd write
// (`producer-ids`, cluster/KEYS.md) through the reserve function given.
//
// Thread-safety: next() may be called from any thread; it blocks while a
// block is reserved (an fdatasync or an etcd round trip), so call it off the
// shard threads.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

#include "storage/env.h"

namespace runnel::cluster {

class ProducerIdAllocator {
 public:
  static constexpr int64_t kBlockSize = 1000;
  // Reserves the next block of `size` ids and returns its first id, or
  // nullopt when the reservation could not be made durable.
  using ReserveBlock = std::function<std::optional<int64_t>(int64_t size)>;

  explicit ProducerIdAllocator(ReserveBlock reserve) : reserve_(std::move(reserve)) {}
  // The next unused producer id, or nullopt when no block can be reserved.
  std::optional<int64_t> next();

 private:
  ReserveBlock reserve_;
  std::mutex mu_;
  int64_t next_ = 0;
  int64_t limit_ = 0;  // next_ == limit_: no block in hand
};

// The single node's reservation: the checkpoint at `path` holds the first id
// of the next block not yet reserved (absent: 0); it is advanced durably
// before the block is used.
ProducerIdAllocator::ReserveBlock file_block_reserver(storage::Env& env, std::filesystem::path path);

}  // namespace runnel::cluster
