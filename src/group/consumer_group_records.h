#pragma once
// A KIP-848 consumer group in __consumer_offsets, as Kafka 4 writes it: one
// record per kind of state and per member, the record types 3-8 of Kafka's
// group-coordinator ConsumerGroup*Key / ConsumerGroup*Value schemas.
//   3 metadata                   key: group          value: group epoch
//   5 member metadata            key: group, member  value: instance id, rack,
//        client id and host, subscribed topic names and regex, rebalance
//        timeout, server assignor; tagged field 0: a classic member's session
//        timeout and JoinGroup protocols (a mixed group)
//   6 target assignment metadata key: group          value: assignment epoch
//   7 target assignment member   key: group, member  value: target partitions
//   8 current member assignment  key: group, member  value: member epoch,
//        previous epoch, state, assigned and pending-revocation partitions
// Keys are the int16 type then int16-length strings; values an int16 version
// (0) then Kafka's flexible encoding (compact strings and arrays, tagged
// fields), partitions by topic id. Type 4 (the subscribed topics' metadata,
// which Kafka 4.1 stopped writing) is not written and is skipped when read.
//
// A change writes only the records that differ from what was written before
// (consumer_group_changes), a deletion tombstones every record of the group
// (consumer_group_tombstones), and loading applies the records one at a time
// to an image of the group (apply_consumer_group_record): in any order of
// kinds, since a compacted log holds them sorted by key.
// Thread-safety: pure functions.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "group/offsets_format.h"

namespace runnel::group {

// One record for __consumer_offsets; a null value is a tombstone.
struct KeyedRecord {
  std::vector<uint8_t> key;
  std::optional<std::vector<uint8_t>> value;
};

// The records that take the group from `before` (nullptr: nothing written
// yet) to `after`: a new or changed member's metadata (5), target (7) and
// current assignment (8), the group epoch (3) and assignment epoch (6) when
// they changed, and tombstones (8, 7, 5) for the members that left.
std::vector<KeyedRecord> consumer_group_changes(const std::string& group, const ConsumerGroupValue* before,
                                                const ConsumerGroupValue& after);

// Tombstones for every record of a group written as `persisted`, members
// first, then its assignment epoch and epoch (Kafka's order).
std::vector<KeyedRecord> consumer_group_tombstones(const std::string& group, const ConsumerGroupValue& persisted);

// Applies one record of `key.type` (a null value: a tombstone) to the image
// of its group: a group tombstone (3) empties `image`, any other value
// creates it. Throws protocol::DecodeError on a malformed value.
void apply_consumer_group_record(const ConsumerGroupRecordKey& key,
                                 const std::optional<std::span<const uint8_t>>& value,
                                 std::optional<ConsumerGroupValue>& image);

}  // namespace runnel::group
