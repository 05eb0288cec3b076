#pragma once
// A member of a consumer group (KIP-848) and how it moves towards its target
// assignment: Kafka's CurrentAssignmentBuilder. A partition the target takes
// from a member is first revoked (the member keeps its epoch and must stop
// reporting the partition); a partition the target gives to a member is
// handed over only once no other member holds it (its partition epoch is -1),
// so no partition is ever consumed by two members at once.
//
// Thread-safety: pure functions over plain values.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "group/assignors.h"

namespace runnel::group {

// Kafka's MemberState; the values are the persisted ones.
enum class MemberState : int8_t { Stable = 0, UnrevokedPartitions = 1, UnreleasedPartitions = 2 };
std::string_view member_state_name(MemberState s);

// Member epochs with a meaning of their own in ConsumerGroupHeartbeat.
inline constexpr int32_t kJoinEpoch = 0;
inline constexpr int32_t kLeaveEpoch = -1;
inline constexpr int32_t kLeaveStaticEpoch = -2;

struct ConsumerMember {
  std::string id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = -1;
  std::vector<std::string> subscribed_topics;  // sorted, unique
  std::optional<std::string> subscribed_regex;
  std::optional<std::string> server_assignor;
  int32_t epoch = 0;
  int32_t previous_epoch = 0;
  MemberState state = MemberState::Stable;
  TopicAssignment assigned;            // the partitions the member may use
  TopicAssignment pending_revocation;  // the partitions it must give up

  std::chrono::steady_clock::time_point session_deadline{};
  std::chrono::steady_clock::time_point rebalance_deadline{};  // while UnrevokedPartitions

  // Everything but the timers (what is persisted).
  bool same_state(const ConsumerMember& o) const;
};

// The epoch of the member that holds a partition now (assigned or pending
// revocation), or -1 when nobody does.
using PartitionEpochFn = std::function<int32_t(const TopicUuid&, int32_t)>;

// One reconciliation step for `member` towards `target` (of epoch
// `target_epoch`). `owned` is what the member reported owning in this
// heartbeat (nullopt: not reported, so it is assumed to still own everything).
ConsumerMember reconcile(const ConsumerMember& member, int32_t target_epoch, const TopicAssignment& target,
                         const PartitionEpochFn& partition_epoch, const std::optional<TopicAssignment>& owned);

// Whether `owned` (nullopt: everything it had) holds any of `partitions`.
bool owns_any(const std::optional<TopicAssignment>& owned, const TopicAssignment& partitions);
// Whether every owned partition is in `assigned` (false when not reported).
bool is_subset(const std::optional<TopicAssignment>& owned, const TopicAssignment& assigned);

}  // namespace runnel::group
