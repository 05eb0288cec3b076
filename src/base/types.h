#pragma once
// Strong integer types for the quantities that replication passes around
// (Redpanda's model::offset): an offset cannot be handed where a leader epoch,
// a node id or a partition id is expected, nor silently mixed with a byte
// position or a count. Construction is explicit; value() gives the integer
// back at the edges (wire structs, file formats, logging).
//
// Used by the interfaces written for replication (storage/leader_epoch_cache.h,
// cluster/replication/); older code still uses plain integers.
//
// Thread-safety: plain values.
#include <compare>
#include <cstdint>

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

}  // namespace runnel
