#pragma once
// Replays a partition's log batch by batch, for the broker's own readers: the
// group and transaction coordinators rebuild their state from
// __consumer_offsets and __transaction_state this way.
//
// Thread-safety: as cluster::Partition, on the partition's shard.
#include <functional>
#include <span>

#include "cluster/partition.h"

namespace runnel::cluster {

// Hands every whole record batch from the log start to the log end to
// `visit`, in order (decoding it, and skipping one it cannot decode, is the
// caller's business). Stops where nothing more can be read. A failed read
// throws std::runtime_error naming the partition, after the batches before it
// were visited.
void replay_batches(const Partition& partition, const std::function<void(std::span<const uint8_t> batch)>& visit);

}  // namespace runnel::cluster
