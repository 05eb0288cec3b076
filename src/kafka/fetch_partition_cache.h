#pragma once
// The partitions a connection's last Fetch named, in its order, each as it
// was looked up on its shard, for fetches outside a fetch session (a
// consumer, or a follower whose leader offers none), which name the same
// partitions in the same order round after round; with this the broker
// looks each up by name once, not every round, until a replica of its shard
// is opened, replaced or closed (PartitionManager's replicas_generation). A
// session's partitions keep their own lookups (kafka/fetch_session.h).
//
// Thread-safety: one per connection, used by one Fetch at a time (a Fetch
// is finished before its connection starts the next request); each slot is
// touched only on the shard that owns its partition, the vector's shape only
// between hops.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace runnel {

namespace cluster {
class Partition;
}

// A partition's replica as last looked up on its shard, valid while that
// shard's replicas_generation is `generation`.
struct ReplicaLookup {
  cluster::Partition* replica = nullptr;
  uint64_t generation = std::numeric_limits<uint64_t>::max();
};

struct FetchPartitionCache {
  struct Slot {
    std::string topic;
    int32_t partition = -1;
    ReplicaLookup lookup;
  };
  std::vector<Slot> slots;

  // Makes slot i stand for (topic, partition), forgetting a different one.
  void name(size_t i, const std::string& topic, int32_t partition) {
    if (slots.size() <= i) slots.resize(i + 1);
    auto& slot = slots[i];
    if (slot.partition == partition && slot.topic == topic) return;
    slot.topic = topic;
    slot.partition = partition;
    slot.lookup = {};
  }
};

}  // namespace runnel
