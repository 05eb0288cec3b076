// Mixed consumer groups (KIP-848 online migration): classic members inside
// a consumer group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup answered from
// the target assignment), the conversions between classic and consumer
// groups, and the persisted form of classic members (value v1, golden bytes).
#include <gtest/gtest.h>

#include "group/consumer_group.h"
#include "group/group_conversion.h"
#include "group/offsets_format.h"
#include "protocol/consumer_protocol.h"
#include "protocol/reader.h"

namespace runnel::group {
namespace {

using namespace std::chrono_literals;

struct MixedGroupTest : ::testing::Test {
  ConsumerGroupConfig config;
  std::unique_ptr<ConsumerGroup> group = std::make_unique<ConsumerGroup>("g", config);
  ConsumerClock::time_point now = ConsumerClock::time_point{} + 1h;
  TopicUuid t_id{};
  TopicCatalog catalog;

  MixedGroupTest() {
    t_id[0] = 7;
    catalog.find = [this](const std::string& name) -> std::optional<SubscribedTopic> {
      if (name != "t") return std::nullopt;
      return SubscribedTopic{t_id, "t", 3};
    };
    catalog.names = [] { return std::vector<std::string>{"t"}; };
  }

  ConsumerHeartbeatResult consumer_join(const std::string& id) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 30000;
    hb.subscribed_topic_names = std::vector<std::string>{"t"};
    hb.owned = TopicAssignment{};
    return group->heartbeat(hb, catalog, now);
  }
  ConsumerHeartbeatResult consumer_beat(const std::string& id, int32_t epoch, const TopicAssignment& owned) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.owned = owned;
    return group->heartbeat(hb, catalog, now);
  }
  JoinRequest classic_request(const std::string& id) {
    JoinRequest r;
    r.member_id = id;
    r.protocol_type = "consumer";
    r.protocols = {{"range", protocol::encode_consumer_subscription({"t"})}};
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 20000;
    r.client_id = "classic-client";
    return r;
  }
  SyncResult sync(const std::string& id, int32_t generation) {
    SyncRequest r;
    r.member_id = id;
    r.generation_id = generation;
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    return group->classic_sync(r, catalog, now);
  }
  static std::vector<int32_t> partitions(const SyncResult& r) {
    auto a = protocol::decode_consumer_assignment(r.assignment);
    return a.count("t") ? a["t"] : std::vector<int32_t>{};
  }
};

TEST_F(MixedGroupTest, ClassicMemberJoinsSyncsAndShares) {
  auto c = consumer_join("c");
  ASSERT_EQ(c.error, ErrorCode::NONE);
  ASSERT_EQ(partition_count(*c.assignment), 3u);

  // Kafka's protocol checks come before MEMBER_ID_REQUIRED.
  auto bad = classic_request("");
  bad.protocol_type = "connect";
  EXPECT_EQ(group->classic_join(bad, catalog, now).error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  auto first = classic_request("");
  first.require_known_member_id = true;
  auto required = group->classic_join(first, catalog, now);
  ASSERT_EQ(required.error, ErrorCode::MEMBER_ID_REQUIRED);
  ASSERT_FALSE(required.member_id.empty());

  auto j = group->classic_join(classic_request(required.member_id), catalog, now);
  ASSERT_EQ(j.error, ErrorCode::NONE);
  EXPECT_EQ(j.member_id, required.member_id);
  EXPECT_EQ(j.protocol_type, "consumer");
  EXPECT_EQ(j.protocol_name, "range");
  EXPECT_TRUE(j.leader.empty());  // every classic member is a follower
  EXPECT_EQ(group->members().at(j.member_id).classic->session_timeout_ms, 10000);

  // The consumer member still holds what the classic one is to get: the
  // classic member waits (its heartbeat is fine), then syncs what it has.
  const std::string k = j.member_id;
  EXPECT_EQ(sync(k, j.generation_id + 1).error, ErrorCode::ILLEGAL_GENERATION);
  auto s = sync(k, j.generation_id);
  ASSERT_EQ(s.error, ErrorCode::NONE);
  EXPECT_TRUE(partitions(s).empty());
  EXPECT_EQ(group->classic_heartbeat(k, std::nullopt, j.generation_id, now), ErrorCode::NONE);

  // The consumer member revokes; the partitions are free: the classic
  // member is told to rejoin and then gets them.
  TopicAssignment c_owned = *c.assignment;
  for (int i = 0; i < 2; ++i) {
    c = consumer_beat("c", c.member_epoch, c_owned);
    ASSERT_EQ(c.error, ErrorCode::NONE);
    if (c.assignment) c_owned = *c.assignment;
  }
  EXPECT_EQ(group->classic_heartbeat(k, std::nullopt, j.generation_id, now), ErrorCode::REBALANCE_IN_PROGRESS);
  j = group->classic_join(classic_request(k), catalog, now);
  ASSERT_EQ(j.error, ErrorCode::NONE);
  s = sync(k, j.generation_id);
  ASSERT_EQ(s.error, ErrorCode::NONE);
  EXPECT_EQ(partitions(s).size() + partition_count(c_owned), 3u);
  EXPECT_FALSE(partitions(s).empty());
  EXPECT_EQ(group->classic_heartbeat(k, std::nullopt, j.generation_id, now), ErrorCode::NONE);
  EXPECT_EQ(group->state(), ConsumerGroupState::Stable);

  // Classic errors: a consumer-protocol member is unknown to the classic
  // APIs; a classic member commits with its generation at any version.
  EXPECT_EQ(group->classic_heartbeat("c", std::nullopt, c.member_epoch, now), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group->classic_heartbeat(k, std::nullopt, j.generation_id - 1, now), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(group->validate_commit(k, j.generation_id, 2, false), ErrorCode::NONE);
  EXPECT_EQ(group->validate_commit(k, j.generation_id - 1, 2, false), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(group->validate_commit("c", c.member_epoch, 8, false), ErrorCode::UNSUPPORTED_VERSION);

  // A second classic member must share a protocol with the first.
  auto other = classic_request("");
  other.protocols = {{"roundrobin", protocol::encode_consumer_subscription({"t"})}};
  EXPECT_EQ(group->classic_join(other, catalog, now).error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);

  // LeaveGroup: only classic members, then the consumer member is alone.
  EXPECT_EQ(group->classic_leave("c", std::nullopt), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group->classic_leave(k, std::nullopt), ErrorCode::NONE);
  EXPECT_EQ(group->members().size(), 1u);
  EXPECT_FALSE(group->only_classic_members());
}

TEST_F(MixedGroupTest, ClassicMemberThatDoesNotSyncOrRejoinIsFenced) {
  config.session_timeout_ms = 1000000;  // the consumer-protocol members stay
  group = std::make_unique<ConsumerGroup>("g", config);
  ASSERT_EQ(consumer_join("c").error, ErrorCode::NONE);
  // Joins, heartbeats, never syncs: fenced after its rebalance timeout
  // (20 s), before its session (10 s, kept alive) would expire.
  auto j = group->classic_join(classic_request("k"), catalog, now);
  ASSERT_EQ(j.error, ErrorCode::NONE);
  for (int i = 0; i < 2; ++i) {
    now += 8s;
    (void)group->classic_heartbeat("k", std::nullopt, j.generation_id, now);
    EXPECT_FALSE(group->tick(now));
  }
  now += 5s;
  EXPECT_TRUE(group->tick(now));
  EXPECT_FALSE(group->members().count("k"));

  // One that syncs has no timeout running; told to rejoin, it must do so in
  // its rebalance timeout.
  j = group->classic_join(classic_request("k2"), catalog, now);
  ASSERT_EQ(sync("k2", j.generation_id).error, ErrorCode::NONE);
  for (int i = 0; i < 3; ++i) {
    now += 8s;
    (void)group->classic_heartbeat("k2", std::nullopt, j.generation_id, now);
    EXPECT_FALSE(group->tick(now));
  }
  ASSERT_EQ(consumer_join("c2").error, ErrorCode::NONE);  // a new group epoch
  EXPECT_EQ(group->classic_heartbeat("k2", std::nullopt, j.generation_id, now), ErrorCode::REBALANCE_IN_PROGRESS);
  now += 8s;
  EXPECT_EQ(group->classic_heartbeat("k2", std::nullopt, j.generation_id, now), ErrorCode::REBALANCE_IN_PROGRESS);
  EXPECT_FALSE(group->tick(now));
  now += 13s;
  (void)group->classic_heartbeat("k2", std::nullopt, j.generation_id, now);
  EXPECT_TRUE(group->tick(now));
  EXPECT_FALSE(group->members().count("k2"));
}

TEST_F(MixedGroupTest, ClassicGroupConvertsBothWays) {
  // A Stable classic group of two members at generation 5.
  Group classic("g", GroupLimits{});
  std::vector<Member> members;
  for (auto [id, parts] : {std::pair<std::string, std::vector<int32_t>>{"a", {0, 1}}, {"b", {2}}}) {
    Member m;
    m.id = id;
    m.client_id = "client-" + id;
    m.session_timeout_ms = 10000;
    m.rebalance_timeout_ms = 30000;
    m.protocol_type = "consumer";
    m.protocols = {{"range", protocol::encode_consumer_subscription({"t"})}};
    m.assignment = protocol::encode_consumer_assignment({{"t", parts}});
    members.push_back(std::move(m));
  }
  classic.restore(5, "consumer", std::string("range"), "a", members, now);

  auto converted = consumer_group_from_classic(classic, config, catalog, now);
  ASSERT_TRUE(converted);
  EXPECT_EQ(converted->group_epoch(), 5);
  EXPECT_EQ(converted->assignment_epoch(), 5);
  EXPECT_EQ(converted->state(), ConsumerGroupState::Stable);
  EXPECT_TRUE(converted->only_classic_members());
  EXPECT_EQ(converted->members().at("a").assigned, (TopicAssignment{{t_id, {0, 1}}}));
  EXPECT_EQ(converted->target("b"), (TopicAssignment{{t_id, {2}}}));
  EXPECT_EQ(converted->classic_heartbeat("a", std::nullopt, 5, now), ErrorCode::NONE);

  // And back: the generation is the group epoch, assignments the targets.
  auto image = classic_group_from_consumer(*converted, catalog);
  ASSERT_TRUE(image);
  EXPECT_EQ(image->generation, 5);
  EXPECT_EQ(image->protocol, "range");
  ASSERT_EQ(image->members.size(), 2u);
  EXPECT_EQ(protocol::decode_consumer_assignment(image->members[0].assignment),
            (std::map<std::string, std::vector<int32_t>>{{"t", {0, 1}}}));
  EXPECT_EQ(image->members[1].session_timeout_ms, 10000);

  // A group that does not use the consumer protocol cannot be upgraded.
  Group connect("g2", GroupLimits{});
  connect.restore(1, "connect", std::string("v1"), "a", {}, now);
  EXPECT_FALSE(consumer_group_from_classic(connect, config, catalog, now));
}

TEST_F(MixedGroupTest, ClassicMembersPersistAsValueV1) {
  ASSERT_EQ(consumer_join("c").error, ErrorCode::NONE);
  // Without classic members the value stays v0, byte for byte as before.
  auto v0 = encode_value(group->snapshot());
  EXPECT_EQ(v0[0], 0);
  EXPECT_EQ(v0[1], 0);
  auto j = group->classic_join(classic_request("k"), catalog, now);
  ASSERT_EQ(j.error, ErrorCode::NONE);
  auto bytes = encode_value(group->snapshot());
  EXPECT_EQ(bytes[1], 1);
  auto restored = std::make_unique<ConsumerGroup>("g", config);
  restored->restore(decode_consumer_group_value(bytes), now);
  ASSERT_EQ(restored->members().size(), 2u);
  for (const auto& [id, m] : group->members()) EXPECT_TRUE(restored->members().at(id).same_state(m)) << id;
  EXPECT_TRUE(restored->members().at("k").classic.has_value());
  EXPECT_FALSE(restored->members().at("c").classic.has_value());
}

TEST(OffsetsFormatMixed, ConsumerGroupValueV1GoldenBytes) {
  ConsumerGroupValue v;
  v.group_epoch = 2;
  v.assignment_epoch = 2;
  ConsumerMemberValue m;
  m.member_id = "k";
  m.client_id = "c";
  m.client_host = "/h";
  m.rebalance_timeout_ms = 1;
  m.subscribed_topics = {"t"};
  m.member_epoch = 2;
  m.previous_member_epoch = 1;
  m.classic.emplace();
  m.classic->session_timeout_ms = 3;
  m.classic->protocols = {{"r", {0xAB}}};
  v.members.push_back(m);
  const std::vector<uint8_t> golden = {
      0x00, 0x01,                                      // version 1
      0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,  // group epoch, assignment epoch
      0x00, 0x00, 0x00, 0x01,                          // one member
      0x00, 0x01, 'k',                                 // member id
      0xFF, 0xFF, 0xFF, 0xFF,                          // instance id, rack: null
      0x00, 0x01, 'c',  0x00, 0x02, '/',  'h',         // client id, host
      0x00, 0x00, 0x00, 0x01,                          // rebalance timeout
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',         // subscribed topics
      0xFF, 0xFF, 0xFF, 0xFF,                          // regex, assignor: null
      0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,  // member epoch, previous
      0x00,                                            // state
      0x00, 0x00, 0x00, 0x00,                          // assigned
      0x00, 0x00, 0x00, 0x00,                          // pending revocation
      0x00, 0x00, 0x00, 0x00,                          // target
      0x01,                                            // classic
      0x00, 0x00, 0x00, 0x03,                          // session timeout
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'r',         // one protocol: name
      0x00, 0x00, 0x00, 0x01, 0xAB,                    // and metadata
  };
  EXPECT_EQ(encode_value(v), golden);
  auto back = decode_consumer_group_value(golden);
  ASSERT_EQ(back.members.size(), 1u);
  ASSERT_TRUE(back.members[0].classic);
  EXPECT_EQ(back.members[0].classic->session_timeout_ms, 3);
  EXPECT_EQ(back.members[0].classic->protocols, m.classic->protocols);
}

TEST(ConsumerProtocolFull, OwnedPartitionsAndRack) {
  // ConsumerProtocolSubscription v3: topics, user data, owned partitions,
  // generation, rack.
  const std::vector<uint8_t> v3 = {
      0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',  // version, topics
      0xFF, 0xFF, 0xFF, 0xFF,                               // user data: null
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',              // owned: topic t
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,       // partition 2
      0x00, 0x00, 0x00, 0x04,                               // generation
      0x00, 0x02, 'r',  '1',                                // rack
  };
  auto s = protocol::decode_consumer_subscription_full(v3);
  EXPECT_EQ(s.version, 3);
  EXPECT_EQ(s.topics, std::vector<std::string>{"t"});
  EXPECT_EQ(s.owned, (std::map<std::string, std::vector<int32_t>>{{"t", {2}}}));
  EXPECT_EQ(s.rack_id, "r1");
  EXPECT_THROW(protocol::decode_consumer_subscription_full(std::vector<uint8_t>{0x00, 0x01}), protocol::DecodeError);
}

TEST(MigrationPolicy, Names) {
  EXPECT_EQ(parse_migration_policy("BIDIRECTIONAL"), MigrationPolicy::Bidirectional);
  EXPECT_EQ(parse_migration_policy("disabled"), MigrationPolicy::Disabled);
  EXPECT_FALSE(parse_migration_policy("sideways"));
  EXPECT_TRUE(upgrade_enabled(MigrationPolicy::Upgrade));
  EXPECT_FALSE(downgrade_enabled(MigrationPolicy::Upgrade));
  EXPECT_EQ(ConsumerGroupConfig{}.migration_policy, MigrationPolicy::Bidirectional);
}

}  // namespace
}  // namespace runnel::group
