#pragma once
// Strong integer types for the quantities that replication passes around
// (Redpanda's model::offset): an offset cannot be handed where a leader epoch,
// a node id or a partition id is expected, nor silently mixed with a byte
// position or a count. Construction is explicit; value() gives the integer
// back at the edges (wire structs, file formats, logging).
//
// Used wherever one of these crosses a module boundary (storage/, cluster/,
// group/, kafka/); the wire structs and file formats keep plain integers, and
// the code that decodes or encodes them converts explicitly.
//
// Thread-safety: plain values.
#include <compare>
#include <cstdint>
#include <vector>

namespace runnel {

template <typename Tag, typename T>
class StrongInt {
 public:
  using value_type = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  friend constexpr auto operator<=>(const StrongInt&, const StrongInt&) = default;
  friend constexpr bool operator==(const StrongInt&, const StrongInt&) = default;

 private:
  T value_{};
};

using Offset = StrongInt<struct OffsetTag, int64_t>;
using LeaderEpoch = StrongInt<struct LeaderEpochTag, int32_t>;
using NodeId = StrongInt<struct NodeIdTag, int32_t>;
using PartitionId = StrongInt<struct PartitionIdTag, int32_t>;

// Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET (OffsetForLeaderEpoch answers).
inline constexpr LeaderEpoch kUndefinedEpoch{-1};
inline constexpr Offset kUndefinedOffset{-1};
// No broker: a partition without a leader, a replica not yet known.
inline constexpr NodeId kNoNode{-1};

// Node id lists (replicas, ISR) at the edges where they are plain integers
// (etcd records, wire structs).
inline std::vector<NodeId> to_node_ids(const std::vector<int32_t>& ids) {
  std::vector<NodeId> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.emplace_back(id);
  return out;
}
inline std::vector<int32_t> node_id_values(const std::vector<NodeId>& ids) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (NodeId id : ids) out.push_back(id.value());
  return out;
}

}  // namespace runnel
