#pragma once
// The server-side assignors of the consumer group protocol (KIP-848), as
// Kafka's group coordinator names them: `uniform` (the default; balanced and
// sticky: a member keeps what it had as far as balance allows) and `range`
// (per topic, contiguous ranges of partitions over the members subscribed to
// it, in member id order, as the classic RangeAssignor). Both are pure
// functions of the members and the topics, so the coordinator and the tests
// get the same answer for the same input.
//
// Thread-safety: pure functions.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::group {

using TopicUuid = std::array<uint8_t, 16>;
// Partitions by topic id: a member's assignment (current, target, pending).
using TopicAssignment = std::map<TopicUuid, std::set<int32_t>>;

// A topic some member subscribes to, as the cluster knows it now.
struct SubscribedTopic {
  TopicUuid id{};
  std::string name;
  int32_t partitions = 0;
  friend bool operator==(const SubscribedTopic&, const SubscribedTopic&) = default;
};

struct AssignorMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::set<std::string> topics;  // subscribed topic names
  TopicAssignment previous;      // the member's last target assignment (stickiness)
};

inline constexpr std::string_view kUniformAssignor = "uniform";
inline constexpr std::string_view kRangeAssignor = "range";

bool is_known_assignor(std::string_view name);

// The target assignment: every member id of `members` maps to its partitions
// (possibly none). Topics unknown to `topics` are not assigned.
std::map<std::string, TopicAssignment> assign(std::string_view assignor, const std::vector<AssignorMember>& members,
                                              const std::map<std::string, SubscribedTopic>& topics);

std::map<std::string, TopicAssignment> assign_uniform(const std::vector<AssignorMember>& members,
                                                      const std::map<std::string, SubscribedTopic>& topics);
std::map<std::string, TopicAssignment> assign_range(const std::vector<AssignorMember>& members,
                                                    const std::map<std::string, SubscribedTopic>& topics);

// How many partitions an assignment holds.
size_t partition_count(const TopicAssignment& a);

}  // namespace runnel::group
