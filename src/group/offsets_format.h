#pragma once
// The records of the internal __consumer_offsets topic, in Kafka's own layout
// so that tools which read that topic understand it:
//   offset commit  key v1: group, topic, partition
//                  value v3: offset, leader epoch, metadata, commit timestamp
//   group metadata key v2: group
//                  value v3: protocol type, generation, protocol, leader,
//                  state timestamp, members (id, instance id, client id and
//                  host, timeouts, subscription, assignment) of a Stable group
//   consumer group records, key types 3-8: Kafka's records of a KIP-848
//                  group, one per kind of state and per member
//                  (group/consumer_group_records.h); what runnel writes.
//   consumer group key v1000 (runnel's own, written before it wrote Kafka's
//                  records 3-8; still read, so that an older data dir loads,
//                  and tombstoned by the group's first change): group
//                  value v0: group epoch, assignment epoch, then per member:
//                  id, instance id, rack, client id and host, rebalance
//                  timeout, subscribed topics and regex, server assignor,
//                  member epoch and previous epoch, state, and its assigned,
//                  pending-revocation and target partitions by topic id.
//                  The whole group in one record: each change rewrites it,
//                  and the compaction by snapshot keeps the latest only.
//                  value v1 (written only when some member speaks the
//                  classic protocol, a mixed group): v0 and, after each
//                  member, int8 classic flag; when 1, its session timeout
//                  (int32) and JoinGroup protocols (array of name, bytes).
// A null value is a tombstone (offset deleted / group deleted).
// Key versions this build does not know are skipped on replay.
// Thread-safety: pure functions.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace runnel::group {

struct OffsetKey {
  std::string group;
  std::string topic;
  int32_t partition = 0;
};

struct OffsetValue {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp = 0;
};

struct GroupKey {
  std::string group;
};

struct GroupMemberValue {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::vector<uint8_t> subscription;  // the selected protocol's metadata
  std::vector<uint8_t> assignment;
};

struct GroupValue {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t state_timestamp = 0;
  std::vector<GroupMemberValue> members;
};

// A KIP-848 consumer group (see the layout above).
struct ConsumerGroupKey {
  std::string group;
};

// Partitions by topic id, as persisted.
using PersistedAssignment = std::vector<std::pair<std::array<uint8_t, 16>, std::vector<int32_t>>>;

// A classic-protocol member of a mixed group (ConsumerMemberValue v1): its
// session timeout and JoinGroup protocols (name, metadata).
struct ClassicMemberValue {
  int32_t session_timeout_ms = 0;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> protocols;
  bool operator==(const ClassicMemberValue&) const = default;
};

struct ConsumerMemberValue {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = -1;
  std::vector<std::string> subscribed_topics;
  std::optional<std::string> subscribed_regex;
  std::optional<std::string> server_assignor;
  int32_t member_epoch = 0;
  int32_t previous_member_epoch = 0;
  int8_t state = 0;
  PersistedAssignment assigned;
  PersistedAssignment pending_revocation;
  PersistedAssignment target;
  // A classic-protocol member of a mixed group (value v1). Declared outside
  // the struct: clang does not see a nested struct with default member
  // initializers as default-constructible inside its enclosing class.
  using Classic = ClassicMemberValue;
  std::optional<Classic> classic;
};

struct ConsumerGroupValue {
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  std::vector<ConsumerMemberValue> members;
};

std::vector<uint8_t> encode_key(const OffsetKey& k);
std::vector<uint8_t> encode_key(const ConsumerGroupKey& k);
std::vector<uint8_t> encode_value(const ConsumerGroupValue& v);
ConsumerGroupValue decode_consumer_group_value(std::span<const uint8_t> bytes);
std::vector<uint8_t> encode_key(const GroupKey& k);
std::vector<uint8_t> encode_value(const OffsetValue& v);
std::vector<uint8_t> encode_value(const GroupValue& v);

// The key of one of Kafka's KIP-848 group records (types 3-8); member_id is
// empty for the group-wide types 3, 4 and 6.
struct ConsumerGroupRecordKey {
  int16_t type = 0;
  std::string group;
  std::string member_id;
  bool operator==(const ConsumerGroupRecordKey&) const = default;
};
std::vector<uint8_t> encode_key(const ConsumerGroupRecordKey& k);

using DecodedKey = std::variant<std::monostate, OffsetKey, GroupKey, ConsumerGroupKey, ConsumerGroupRecordKey>;
// Unknown key versions decode to monostate (skipped). Throws DecodeError on malformed bytes.
DecodedKey decode_key(std::span<const uint8_t> bytes);
OffsetValue decode_offset_value(std::span<const uint8_t> bytes);
GroupValue decode_group_value(std::span<const uint8_t> bytes);

// The topics of a ConsumerProtocolSubscription (a consumer member's protocol
// metadata, from JoinGroup and in a group value's members), any version.
// Throws DecodeError on malformed bytes.
std::vector<std::string> decode_subscription_topics(std::span<const uint8_t> bytes);

}  // namespace runnel::group
