#pragma once
// Online migration between the two group protocols (KIP-848): a classic
// group with members becomes a consumer group when a ConsumerGroupHeartbeat
// member joins it (Kafka's ConsumerGroup.fromClassicGroup), and a consumer
// group left with classic members only becomes a classic group again
// (ClassicGroup.fromConsumerGroup). Both keep every member's id, instance
// id, client, timeouts and partitions; the epoch becomes the generation and
// back.
//
// Thread-safety: pure functions.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "group/consumer_group.h"
#include "group/group.h"

namespace runnel::group {

// The consumer group a Stable (or rebalancing) classic group becomes: every
// member Stable at the generation, its last assignment as current and
// target. nullptr when the group does not use the consumer protocol or a
// member's subscription or assignment cannot be read.
std::unique_ptr<ConsumerGroup> consumer_group_from_classic(const Group& classic, const ConsumerGroupConfig& config,
                                                           const TopicCatalog& topics, ConsumerClock::time_point now);

// What a consumer group of classic members becomes: the generation (the
// highest member epoch: Kafka converts before the leaving member is fenced,
// at the epoch the members reached), the
// protocol every member supports, and the members with their target
// assignment encoded as ConsumerProtocolAssignment.
struct ClassicGroupImage {
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::vector<Member> members;
};
// nullopt when some member is not a classic one or no protocol is common.
std::optional<ClassicGroupImage> classic_group_from_consumer(const ConsumerGroup& group, const TopicCatalog& topics);

}  // namespace runnel::group
