#include "group/offsets_format.h"

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::group {
namespace {
using protocol::Reader;
using protocol::Writer;

std::vector<uint8_t> done(Writer& w) { return std::move(w).finish().buffer; }

constexpr int16_t kConsumerGroupKeyVersion = 1000;

void write_assignment(Writer& w, const PersistedAssignment& a) {
  w.array_length(static_cast<int32_t>(a.size()));
  for (const auto& [topic, parts] : a) {
    w.uuid(topic);
    w.array_length(static_cast<int32_t>(parts.size()));
    for (int32_t p : parts) w.i32(p);
  }
}

PersistedAssignment read_assignment(Reader& r) {
  PersistedAssignment a;
  int32_t n = r.array_length();
  for (int32_t i = 0; i < n; ++i) {
    auto topic = r.uuid();
    std::vector<int32_t> parts;
    int32_t m = r.array_length();
    for (int32_t j = 0; j < m; ++j) parts.push_back(r.i32());
    a.emplace_back(topic, std::move(parts));
  }
  return a;
}
}  // namespace

std::vector<uint8_t> encode_key(const ConsumerGroupKey& k) {
  Writer w;
  w.i16(kConsumerGroupKeyVersion);
  w.string(k.group);
  return done(w);
}

std::vector<uint8_t> encode_value(const ConsumerGroupValue& v) {
  Writer w;
  // v0 unless a member speaks the classic protocol: what the previous
  // version wrote stays byte for byte the same.
  bool mixed = false;
  for (const auto& m : v.members) mixed = mixed || m.classic.has_value();
  const int16_t version = mixed ? 1 : 0;
  w.i16(version);
  w.i32(v.group_epoch);
  w.i32(v.assignment_epoch);
  w.array_length(static_cast<int32_t>(v.members.size()));
  for (const auto& m : v.members) {
    w.string(m.member_id);
    w.nullable_string(m.instance_id);
    w.nullable_string(m.rack_id);
    w.string(m.client_id);
    w.string(m.client_host);
    w.i32(m.rebalance_timeout_ms);
    w.array_length(static_cast<int32_t>(m.subscribed_topics.size()));
    for (const auto& t : m.subscribed_topics) w.string(t);
    w.nullable_string(m.subscribed_regex);
    w.nullable_string(m.server_assignor);
    w.i32(m.member_epoch);
    w.i32(m.previous_member_epoch);
    w.i8(m.state);
    write_assignment(w, m.assigned);
    write_assignment(w, m.pending_revocation);
    write_assignment(w, m.target);
    if (version >= 1) {
      w.i8(m.classic ? 1 : 0);
      if (m.classic) {
        w.i32(m.classic->session_timeout_ms);
        w.array_length(static_cast<int32_t>(m.classic->protocols.size()));
        for (const auto& [name, metadata] : m.classic->protocols) {
          w.string(name);
          w.bytes(metadata);
        }
      }
    }
  }
  return done(w);
}

ConsumerGroupValue decode_consumer_group_value(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  int16_t version = r.i16();
  if (version != 0 && version != 1) throw protocol::DecodeError("unknown consumer group value version");
  ConsumerGroupValue v;
  v.group_epoch = r.i32();
  v.assignment_epoch = r.i32();
  int32_t n = r.array_length();
  for (int32_t i = 0; i < n; ++i) {
    ConsumerMemberValue m;
    m.member_id = r.string();
    m.instance_id = r.nullable_string();
    m.rack_id = r.nullable_string();
    m.client_id = r.string();
    m.client_host = r.string();
    m.rebalance_timeout_ms = r.i32();
    int32_t topics = r.array_length();
    for (int32_t j = 0; j < topics; ++j) m.subscribed_topics.push_back(r.string());
    m.subscribed_regex = r.nullable_string();
    m.server_assignor = r.nullable_string();
    m.member_epoch = r.i32();
    m.previous_member_epoch = r.i32();
    m.state = r.i8();
    m.assigned = read_assignment(r);
    m.pending_revocation = read_assignment(r);
    m.target = read_assignment(r);
    if (version >= 1 && r.i8() != 0) {
      auto& c = m.classic.emplace();
      c.session_timeout_ms = r.i32();
      int32_t protocols = r.array_length();
      for (int32_t j = 0; j < protocols; ++j) {
        std::string name = r.string();
        auto metadata = r.bytes();
        c.protocols.emplace_back(std::move(name), std::vector<uint8_t>(metadata.begin(), metadata.end()));
      }
    }
    v.members.push_back(std::move(m));
  }
  return v;
}

std::vector<uint8_t> encode_key(const OffsetKey& k) {
  Writer w;
  w.i16(1);
  w.string(k.group);
  w.string(k.topic);
  w.i32(k.partition);
  return done(w);
}

std::vector<uint8_t> encode_key(const ConsumerGroupRecordKey& k) {
  Writer w;
  w.i16(k.type);
  w.string(k.group);
  if (k.type == 5 || k.type == 7 || k.type == 8) w.string(k.member_id);
  return done(w);
}

std::vector<uint8_t> encode_key(const GroupKey& k) {
  Writer w;
  w.i16(2);
  w.string(k.group);
  return done(w);
}

std::vector<uint8_t> encode_value(const OffsetValue& v) {
  Writer w;
  w.i16(3);
  w.i64(v.offset);
  w.i32(v.leader_epoch);
  w.string(v.metadata);
  w.i64(v.commit_timestamp);
  return done(w);
}

std::vector<uint8_t> encode_value(const GroupValue& v) {
  Writer w;
  w.i16(3);
  w.string(v.protocol_type);
  w.i32(v.generation);
  w.nullable_string(v.protocol);
  w.nullable_string(v.leader);
  w.i64(v.state_timestamp);
  w.array_length(static_cast<int32_t>(v.members.size()));
  for (const auto& m : v.members) {
    w.string(m.member_id);
    w.nullable_string(m.group_instance_id);
    w.string(m.client_id);
    w.string(m.client_host);
    w.i32(m.rebalance_timeout_ms);
    w.i32(m.session_timeout_ms);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return done(w);
}

DecodedKey decode_key(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  int16_t version = r.i16();
  if (version == 0 || version == 1) {
    OffsetKey k;
    k.group = r.string();
    k.topic = r.string();
    k.partition = r.i32();
    return k;
  }
  if (version == 2) return GroupKey{r.string()};
  if (version >= 3 && version <= 8) {
    ConsumerGroupRecordKey k{version, r.string(), ""};
    if (version == 5 || version == 7 || version == 8) k.member_id = r.string();
    return k;
  }
  if (version == kConsumerGroupKeyVersion) return ConsumerGroupKey{r.string()};
  return std::monostate{};
}

OffsetValue decode_offset_value(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  int16_t version = r.i16();
  OffsetValue v;
  v.offset = r.i64();
  if (version >= 3) v.leader_epoch = r.i32();
  v.metadata = r.string();
  v.commit_timestamp = r.i64();
  return v;
}

GroupValue decode_group_value(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  int16_t version = r.i16();
  GroupValue v;
  v.protocol_type = r.string();
  v.generation = r.i32();
  v.protocol = r.nullable_string();
  v.leader = r.nullable_string();
  if (version >= 2) v.state_timestamp = r.i64();
  int32_t n = r.array_length();
  for (int32_t i = 0; i < n; ++i) {
    GroupMemberValue m;
    m.member_id = r.string();
    if (version >= 3) m.group_instance_id = r.nullable_string();
    m.client_id = r.string();
    m.client_host = r.string();
    if (version >= 1) m.rebalance_timeout_ms = r.i32();
    m.session_timeout_ms = r.i32();
    if (version == 0) m.rebalance_timeout_ms = m.session_timeout_ms;
    auto subscription = r.bytes();
    m.subscription.assign(subscription.begin(), subscription.end());
    auto assignment = r.bytes();
    m.assignment.assign(assignment.begin(), assignment.end());
    v.members.push_back(std::move(m));
  }
  return v;
}

std::vector<std::string> decode_subscription_topics(std::span<const uint8_t> bytes) {
  // Every version starts with int16 version, then the topics as an
  // int32-counted array of int16-length strings.
  Reader r(bytes);
  r.i16();
  int32_t n = r.array_length();
  std::vector<std::string> topics;
  for (int32_t i = 0; i < n; ++i) topics.push_back(r.string());
  return topics;
}

}  // namespace runnel::group
