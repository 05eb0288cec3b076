#include "group/consumer_group_records.h"

#include <algorithm>

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::group {
namespace {
using protocol::Reader;
using protocol::Writer;

constexpr int16_t kMetadataType = 3, kPartitionMetadataType = 4, kMemberMetadataType = 5, kTargetMetadataType = 6,
                  kTargetMemberType = 7, kCurrentAssignmentType = 8;
constexpr int16_t kRecordValueVersion = 0;
constexpr uint32_t kClassicMetadataTag = 0;

std::vector<uint8_t> finished(Writer& w) { return std::move(w).finish().buffer; }

KeyedRecord record(const std::string& group, int16_t type, const std::string& member,
                   std::optional<std::vector<uint8_t>> value) {
  return {encode_key(ConsumerGroupRecordKey{type, group, member}), std::move(value)};
}

std::vector<uint8_t> epoch_value(int32_t epoch) {
  Writer w;
  w.i16(kRecordValueVersion);
  w.i32(epoch);
  w.empty_tagged_fields();
  return finished(w);
}

void write_topic_partitions(Writer& w, const PersistedAssignment& a) {
  w.compact_array_length(static_cast<int32_t>(a.size()));
  for (const auto& [topic, partitions] : a) {
    w.uuid(topic);
    w.compact_array_length(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) w.i32(p);
    w.empty_tagged_fields();
  }
}

PersistedAssignment read_topic_partitions(Reader& r) {
  PersistedAssignment a;
  int32_t topics = r.compact_array_length();
  for (int32_t i = 0; i < topics; ++i) {
    auto topic = r.uuid();
    std::vector<int32_t> partitions;
    int32_t n = r.compact_array_length();
    for (int32_t j = 0; j < n; ++j) partitions.push_back(r.i32());
    r.skip_tagged_fields();
    a.emplace_back(topic, std::move(partitions));
  }
  return a;
}

std::vector<uint8_t> classic_metadata_bytes(const ClassicMemberValue& c) {
  Writer w;
  w.i32(c.session_timeout_ms);
  w.compact_array_length(static_cast<int32_t>(c.protocols.size()));
  for (const auto& [name, metadata] : c.protocols) {
    w.compact_string(name);
    w.compact_bytes(metadata);
    w.empty_tagged_fields();
  }
  w.empty_tagged_fields();
  return finished(w);
}

ClassicMemberValue read_classic_metadata(Reader& r) {
  ClassicMemberValue c;
  c.session_timeout_ms = r.i32();
  int32_t n = r.compact_array_length();
  for (int32_t i = 0; i < n; ++i) {
    std::string name = r.compact_string();
    auto metadata = r.compact_bytes();
    r.skip_tagged_fields();
    c.protocols.emplace_back(std::move(name), std::vector<uint8_t>(metadata.begin(), metadata.end()));
  }
  r.skip_tagged_fields();
  return c;
}

std::vector<uint8_t> member_metadata_value(const ConsumerMemberValue& m) {
  Writer w;
  w.i16(kRecordValueVersion);
  w.compact_nullable_string(m.instance_id);
  w.compact_nullable_string(m.rack_id);
  w.compact_string(m.client_id);
  w.compact_string(m.client_host);
  w.compact_array_length(static_cast<int32_t>(m.subscribed_topics.size()));
  for (const auto& t : m.subscribed_topics) w.compact_string(t);
  w.compact_nullable_string(m.subscribed_regex);
  w.i32(m.rebalance_timeout_ms);
  w.compact_nullable_string(m.server_assignor);
  if (!m.classic) {
    w.empty_tagged_fields();
  } else {
    // A nullable struct in a tagged field: its size counts a presence byte.
    auto bytes = classic_metadata_bytes(*m.classic);
    w.uvarint(1);
    w.uvarint(kClassicMetadataTag);
    w.uvarint(static_cast<uint32_t>(bytes.size() + 1));
    w.i8(1);
    w.raw(bytes);
  }
  return finished(w);
}

void read_member_metadata(Reader& r, ConsumerMemberValue& m) {
  m.instance_id = r.compact_nullable_string();
  m.rack_id = r.compact_nullable_string();
  m.client_id = r.compact_string();
  m.client_host = r.compact_string();
  m.subscribed_topics.clear();
  int32_t n = r.compact_array_length();
  for (int32_t i = 0; i < n; ++i) m.subscribed_topics.push_back(r.compact_string());
  m.subscribed_regex = r.compact_nullable_string();
  m.rebalance_timeout_ms = r.i32();
  m.server_assignor = r.compact_nullable_string();
  m.classic.reset();
  uint32_t tags = r.uvarint();
  for (uint32_t i = 0; i < tags; ++i) {
    uint32_t tag = r.uvarint();
    auto field = r.take(r.uvarint());
    if (tag != kClassicMetadataTag) continue;  // a field of a newer version
    Reader inner(field);
    if (inner.i8() >= 0) m.classic = read_classic_metadata(inner);
  }
}

std::vector<uint8_t> target_value(const ConsumerMemberValue& m) {
  Writer w;
  w.i16(kRecordValueVersion);
  write_topic_partitions(w, m.target);
  w.empty_tagged_fields();
  return finished(w);
}

std::vector<uint8_t> current_assignment_value(const ConsumerMemberValue& m) {
  Writer w;
  w.i16(kRecordValueVersion);
  w.i32(m.member_epoch);
  w.i32(m.previous_member_epoch);
  w.i8(m.state);
  write_topic_partitions(w, m.assigned);
  write_topic_partitions(w, m.pending_revocation);
  w.empty_tagged_fields();
  return finished(w);
}

bool same_metadata(const ConsumerMemberValue& a, const ConsumerMemberValue& b) {
  return a.instance_id == b.instance_id && a.rack_id == b.rack_id && a.client_id == b.client_id &&
         a.client_host == b.client_host && a.subscribed_topics == b.subscribed_topics &&
         a.subscribed_regex == b.subscribed_regex && a.rebalance_timeout_ms == b.rebalance_timeout_ms &&
         a.server_assignor == b.server_assignor && a.classic == b.classic;
}

bool same_current_assignment(const ConsumerMemberValue& a, const ConsumerMemberValue& b) {
  return a.member_epoch == b.member_epoch && a.previous_member_epoch == b.previous_member_epoch && a.state == b.state &&
         a.assigned == b.assigned && a.pending_revocation == b.pending_revocation;
}

const ConsumerMemberValue* find_member(const ConsumerGroupValue& g, const std::string& id) {
  auto it = std::find_if(g.members.begin(), g.members.end(), [&](const auto& m) { return m.member_id == id; });
  return it == g.members.end() ? nullptr : &*it;
}

ConsumerMemberValue& member_slot(ConsumerGroupValue& g, const std::string& id) {
  auto it = std::find_if(g.members.begin(), g.members.end(), [&](const auto& m) { return m.member_id == id; });
  if (it != g.members.end()) return *it;
  auto& m = g.members.emplace_back();
  m.member_id = id;
  return m;
}

// A value's version: 0 is the only one Kafka 4 writes; a newer one keeps
// these fields first and adds tagged ones, so it reads the same.
void read_value_version(Reader& r) {
  if (r.i16() < 0) throw protocol::DecodeError("consumer group record: negative value version");
}

}  // namespace

std::vector<KeyedRecord> consumer_group_changes(const std::string& group, const ConsumerGroupValue* before,
                                                const ConsumerGroupValue& after) {
  std::vector<KeyedRecord> out;
  for (const auto& m : after.members) {
    const auto* old = before ? find_member(*before, m.member_id) : nullptr;
    if (!old || !same_metadata(*old, m))
      out.push_back(record(group, kMemberMetadataType, m.member_id, member_metadata_value(m)));
  }
  if (!before || before->group_epoch != after.group_epoch)
    out.push_back(record(group, kMetadataType, "", epoch_value(after.group_epoch)));
  for (const auto& m : after.members) {
    const auto* old = before ? find_member(*before, m.member_id) : nullptr;
    if (!old || old->target != m.target) out.push_back(record(group, kTargetMemberType, m.member_id, target_value(m)));
  }
  if (!before || before->assignment_epoch != after.assignment_epoch)
    out.push_back(record(group, kTargetMetadataType, "", epoch_value(after.assignment_epoch)));
  for (const auto& m : after.members) {
    const auto* old = before ? find_member(*before, m.member_id) : nullptr;
    if (!old || !same_current_assignment(*old, m))
      out.push_back(record(group, kCurrentAssignmentType, m.member_id, current_assignment_value(m)));
  }
  if (before)
    for (const auto& m : before->members)
      if (!find_member(after, m.member_id))
        for (int16_t type : {kCurrentAssignmentType, kTargetMemberType, kMemberMetadataType})
          out.push_back(record(group, type, m.member_id, std::nullopt));
  return out;
}

std::vector<KeyedRecord> consumer_group_tombstones(const std::string& group, const ConsumerGroupValue& persisted) {
  std::vector<KeyedRecord> out;
  for (const auto& m : persisted.members)
    for (int16_t type : {kCurrentAssignmentType, kTargetMemberType, kMemberMetadataType})
      out.push_back(record(group, type, m.member_id, std::nullopt));
  out.push_back(record(group, kTargetMetadataType, "", std::nullopt));
  out.push_back(record(group, kMetadataType, "", std::nullopt));
  return out;
}

void apply_consumer_group_record(const ConsumerGroupRecordKey& key,
                                 const std::optional<std::span<const uint8_t>>& value,
                                 std::optional<ConsumerGroupValue>& image) {
  if (key.type == kPartitionMetadataType) return;  // not kept: recomputed from the topics
  if (!value) {
    if (key.type == kMetadataType) {
      image.reset();
    } else if (image && key.type == kMemberMetadataType) {
      std::erase_if(image->members, [&](const auto& m) { return m.member_id == key.member_id; });
    } else if (image && (key.type == kTargetMemberType || key.type == kCurrentAssignmentType)) {
      // The member's metadata tombstone follows; until then it keeps its
      // other state, as Kafka's replay does.
      for (auto& m : image->members) {
        if (m.member_id != key.member_id) continue;
        if (key.type == kTargetMemberType) {
          m.target.clear();
        } else {
          m.assigned.clear();
          m.pending_revocation.clear();
        }
      }
    }
    return;
  }
  Reader r(*value);
  read_value_version(r);
  if (!image) image.emplace();
  switch (key.type) {
    case kMetadataType:
      image->group_epoch = r.i32();
      break;
    case kTargetMetadataType:
      image->assignment_epoch = r.i32();
      break;
    case kMemberMetadataType:
      read_member_metadata(r, member_slot(*image, key.member_id));
      break;
    case kTargetMemberType:
      member_slot(*image, key.member_id).target = read_topic_partitions(r);
      break;
    case kCurrentAssignmentType: {
      auto& m = member_slot(*image, key.member_id);
      m.member_epoch = r.i32();
      m.previous_member_epoch = r.i32();
      m.state = r.i8();
      m.assigned = read_topic_partitions(r);
      m.pending_revocation = read_topic_partitions(r);
      break;
    }
    default:
      break;
  }
}

}  // namespace runnel::group
