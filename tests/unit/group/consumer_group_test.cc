// A KIP-848 consumer group driven by heartbeats with a fake clock and topic
// catalogue: joins, incremental handover, fencing, leaving, static members,
// offset commit validation, persistence.
#include "group/consumer_group.h"

#include <gtest/gtest.h>

namespace runnel::group {
namespace {

using namespace std::chrono_literals;

struct ConsumerGroupTest : ::testing::Test {
  ConsumerGroupConfig config;
  std::unique_ptr<ConsumerGroup> group = std::make_unique<ConsumerGroup>("g", config);
  ConsumerClock::time_point now = ConsumerClock::time_point{} + 1h;
  std::map<std::string, SubscribedTopic> catalog_topics;
  TopicCatalog catalog;

  ConsumerGroupTest() {
    add_topic("t", 3);
    catalog.find = [this](const std::string& name) -> std::optional<SubscribedTopic> {
      auto it = catalog_topics.find(name);
      if (it == catalog_topics.end()) return std::nullopt;
      return it->second;
    };
    catalog.names = [this] {
      std::vector<std::string> out;
      for (const auto& [name, _] : catalog_topics) out.push_back(name);
      return out;
    };
  }

  void add_topic(const std::string& name, int32_t partitions) {
    TopicUuid id{};
    id[0] = static_cast<uint8_t>(catalog_topics.size() + 1);
    if (catalog_topics.count(name)) id = catalog_topics[name].id;
    catalog_topics[name] = SubscribedTopic{id, name, partitions};
  }
  TopicUuid tid(const std::string& name = "t") { return catalog_topics.at(name).id; }

  ConsumerHeartbeatResult join(const std::string& id, std::optional<std::string> instance = std::nullopt,
                               std::vector<std::string> topics = {"t"}) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = 0;
    hb.instance_id = instance;
    hb.rebalance_timeout_ms = 30000;
    hb.subscribed_topic_names = topics;
    hb.owned = TopicAssignment{};
    return group->heartbeat(hb, catalog, now);
  }
  // A steady heartbeat reporting what the member owns.
  ConsumerHeartbeatResult beat(const std::string& id, int32_t epoch, const TopicAssignment& owned,
                               std::optional<std::string> instance = std::nullopt) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.instance_id = instance;
    hb.owned = owned;
    return group->heartbeat(hb, catalog, now);
  }
  ConsumerHeartbeatResult leave(const std::string& id, int32_t epoch = kLeaveEpoch,
                                std::optional<std::string> instance = std::nullopt) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.instance_id = instance;
    return group->heartbeat(hb, catalog, now);
  }

  // Drives every member's heartbeats (each reporting exactly what it was
  // last given) until nothing changes; returns each member's assignment.
  std::map<std::string, TopicAssignment> settle(std::map<std::string, std::pair<int32_t, TopicAssignment>>& members) {
    for (int round = 0; round < 10; ++round) {
      bool changed = false;
      for (auto& [id, state] : members) {
        auto r = beat(id, state.first, state.second);
        EXPECT_EQ(r.error, ErrorCode::NONE) << id << ": " << r.message.value_or("");
        if (r.member_epoch != state.first || (r.assignment && *r.assignment != state.second)) changed = true;
        state.first = r.member_epoch;
        if (r.assignment) state.second = *r.assignment;
      }
      if (!changed) break;
    }
    std::map<std::string, TopicAssignment> out;
    for (auto& [id, state] : members) out[id] = state.second;
    return out;
  }
};

TEST_F(ConsumerGroupTest, FirstMemberGetsEverything) {
  auto r = join("a");
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.member_id, "a");
  EXPECT_EQ(r.member_epoch, 1);
  EXPECT_EQ(r.heartbeat_interval_ms, 5000);
  ASSERT_TRUE(r.assignment);
  EXPECT_EQ(*r.assignment, (TopicAssignment{{tid(), {0, 1, 2}}}));
  EXPECT_EQ(group->group_epoch(), 1);
  EXPECT_EQ(group->state(), ConsumerGroupState::Stable);
}

TEST_F(ConsumerGroupTest, GeneratedMemberIdForV0) {
  auto r = join("");
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.member_id.size(), 22u);
  EXPECT_TRUE(group->members().count(r.member_id));
}

TEST_F(ConsumerGroupTest, ThreeMembersEndWithOnePartitionEachAndNoOverlap) {
  std::map<std::string, std::pair<int32_t, TopicAssignment>> members;
  auto a = join("a");
  members["a"] = {a.member_epoch, *a.assignment};
  auto b = join("b");
  members["b"] = {b.member_epoch, b.assignment.value_or(TopicAssignment{})};
  // b may not have what a still owns.
  for (const auto& [topic, parts] : members["b"].second)
    for (int32_t p : parts) EXPECT_FALSE(members["a"].second.at(topic).count(p));
  auto c = join("c");
  members["c"] = {c.member_epoch, c.assignment.value_or(TopicAssignment{})};
  auto final = settle(members);
  std::set<int32_t> all;
  for (const auto& [id, assignment] : final) {
    EXPECT_EQ(partition_count(assignment), 1u) << id;
    for (const auto& [_, parts] : assignment) all.insert(parts.begin(), parts.end());
  }
  EXPECT_EQ(all, (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(group->state(), ConsumerGroupState::Stable);
  for (const auto& [id, m] : group->members()) EXPECT_EQ(m.epoch, group->assignment_epoch()) << id;
}

TEST_F(ConsumerGroupTest, RevocationBeforeHandover) {
  auto a = join("a");
  auto b = join("b");  // epoch 2: the target gives b some of a's partitions
  EXPECT_EQ(b.member_epoch, 2);
  EXPECT_TRUE(!b.assignment || b.assignment->empty());  // all still owned by a
  // a heartbeats still owning everything: told to keep less, same epoch.
  auto a2 = beat("a", a.member_epoch, *a.assignment);
  EXPECT_EQ(a2.member_epoch, 1);
  ASSERT_TRUE(a2.assignment);
  EXPECT_LT(partition_count(*a2.assignment), 3u);
  EXPECT_EQ(group->members().at("a").state, MemberState::UnrevokedPartitions);
  // b still waits: a has not revoked yet.
  auto b2 = beat("b", 2, {});
  EXPECT_TRUE(!b2.assignment || b2.assignment->empty());
  EXPECT_EQ(group->members().at("b").state, MemberState::UnreleasedPartitions);
  // a revokes; it moves to epoch 2, and b then gets the released partitions.
  auto a3 = beat("a", 1, *a2.assignment);
  EXPECT_EQ(a3.member_epoch, 2);
  auto b3 = beat("b", 2, {});
  ASSERT_TRUE(b3.assignment);
  EXPECT_EQ(partition_count(*a2.assignment) + partition_count(*b3.assignment), 3u);
  EXPECT_EQ(group->state(), ConsumerGroupState::Stable);
}

TEST_F(ConsumerGroupTest, UnknownMemberAndFencedEpochs) {
  auto a = join("a");
  EXPECT_EQ(beat("nobody", 1, {}).error, ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(beat("a", 5, *a.assignment).error, ErrorCode::FENCED_MEMBER_EPOCH);  // ahead
  join("b");
  auto a2 = beat("a", 1, *a.assignment);  // a moves towards epoch 2
  ASSERT_EQ(a2.error, ErrorCode::NONE);
  beat("a", 1, *a2.assignment);  // revoked: a is at epoch 2 now
  ASSERT_EQ(group->members().at("a").epoch, 2);
  // The previous epoch is accepted with a subset of the assignment (the
  // answer that bumped it may have been lost) ...
  EXPECT_EQ(beat("a", 1, *a2.assignment).error, ErrorCode::NONE);
  // ... but not with partitions it does not have, nor an older epoch.
  EXPECT_EQ(beat("a", 1, {{tid(), {0, 1, 2}}}).error, ErrorCode::FENCED_MEMBER_EPOCH);
  // Epoch 0 with its own id: the member starts over.
  auto again = join("a");
  EXPECT_EQ(again.error, ErrorCode::NONE);
  EXPECT_GT(again.member_epoch, 2);
}

TEST_F(ConsumerGroupTest, LeavingReleasesPartitionsAndBumpsTheEpoch) {
  std::map<std::string, std::pair<int32_t, TopicAssignment>> members;
  for (auto id : {"a", "b", "c"}) {
    auto r = join(id);
    members[id] = {r.member_epoch, r.assignment.value_or(TopicAssignment{})};
  }
  settle(members);
  int32_t epoch = group->group_epoch();
  auto r = leave("c");
  EXPECT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.member_epoch, kLeaveEpoch);
  EXPECT_EQ(group->group_epoch(), epoch + 1);
  members.erase("c");
  auto final = settle(members);
  EXPECT_EQ(partition_count(final["a"]) + partition_count(final["b"]), 3u);
  EXPECT_EQ(leave("c").error, ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(ConsumerGroupTest, SessionTimeoutFencesTheMember) {
  join("a");
  now += 44s;
  EXPECT_FALSE(group->tick(now));
  now += 2s;
  EXPECT_TRUE(group->tick(now));
  EXPECT_TRUE(group->members().empty());
  EXPECT_EQ(group->state(), ConsumerGroupState::Empty);
}

TEST_F(ConsumerGroupTest, RebalanceTimeoutFencesAMemberThatDoesNotRevoke) {
  auto a = join("a");
  join("b");
  beat("a", 1, *a.assignment);  // told to revoke
  ASSERT_EQ(group->members().at("a").state, MemberState::UnrevokedPartitions);
  now += 31s;
  beat("b", 2, {});  // b stays alive
  EXPECT_TRUE(group->tick(now));
  EXPECT_FALSE(group->members().count("a"));
}

TEST_F(ConsumerGroupTest, StaticMemberLeavesTemporarilyAndComesBack) {
  auto a = join("a", "inst-a");
  auto before = group->group_epoch();
  auto r = leave("a", kLeaveStaticEpoch, "inst-a");
  EXPECT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(r.member_epoch, kLeaveStaticEpoch);
  EXPECT_EQ(group->group_epoch(), before);  // no rebalance
  // Another process with the same instance id before it left: refused.
  join("a2", "inst-b");
  EXPECT_EQ(join("x", "inst-b").error, ErrorCode::UNRELEASED_INSTANCE_ID);
  // Back under a new member id: same partitions.
  auto back = join("a-new", "inst-a");
  ASSERT_EQ(back.error, ErrorCode::NONE);
  EXPECT_FALSE(group->members().count("a"));
  ASSERT_TRUE(back.assignment);
  EXPECT_FALSE(back.assignment->empty());
  for (const auto& [topic, parts] : *back.assignment)
    for (int32_t p : parts) EXPECT_TRUE(a.assignment->at(topic).count(p)) << "not a's: " << p;
  EXPECT_EQ(beat("a", 1, {}, "inst-a").error, ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_EQ(beat("z", 1, {}, "inst-z").error, ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(ConsumerGroupTest, SubscriptionAndMetadataChangesBumpTheEpoch) {
  auto a = join("a");
  EXPECT_EQ(group->group_epoch(), 1);
  beat("a", 1, *a.assignment);
  EXPECT_EQ(group->group_epoch(), 1);
  add_topic("t", 4);  // partitions added
  auto r = beat("a", 1, *a.assignment);
  EXPECT_EQ(group->group_epoch(), 2);
  EXPECT_EQ(r.member_epoch, 2);
  ASSERT_TRUE(r.assignment);
  EXPECT_EQ(partition_count(*r.assignment), 4u);
  add_topic("u", 1);
  ConsumerHeartbeat hb;
  hb.member_id = "a";
  hb.member_epoch = 2;
  hb.subscribed_topic_names = std::vector<std::string>{"t", "u"};
  hb.owned = *r.assignment;
  auto r2 = group->heartbeat(hb, catalog, now);
  EXPECT_EQ(group->group_epoch(), 3);
  ASSERT_TRUE(r2.assignment);
  EXPECT_EQ(partition_count(*r2.assignment), 5u);
}

TEST_F(ConsumerGroupTest, RegexSubscription) {
  add_topic("orders-eu", 1);
  add_topic("orders-us", 1);
  add_topic("__internal", 1);
  ConsumerHeartbeat hb;
  hb.member_id = "a";
  hb.member_epoch = 0;
  hb.rebalance_timeout_ms = 1000;
  hb.subscribed_topic_regex = "orders-.*";
  hb.owned = TopicAssignment{};
  auto r = group->heartbeat(hb, catalog, now);
  ASSERT_EQ(r.error, ErrorCode::NONE);
  EXPECT_EQ(*r.assignment, (TopicAssignment{{tid("orders-eu"), {0}}, {tid("orders-us"), {0}}}));
}

TEST_F(ConsumerGroupTest, OffsetCommitAndFetchValidation) {
  EXPECT_EQ(group->validate_commit("", -1, 9, false), ErrorCode::NONE);  // empty group: anyone
  auto a = join("a");
  EXPECT_EQ(group->validate_commit("", -1, 9, false), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group->validate_commit("a", a.member_epoch, 9, false), ErrorCode::NONE);
  EXPECT_EQ(group->validate_commit("a", a.member_epoch + 1, 9, false), ErrorCode::STALE_MEMBER_EPOCH);
  EXPECT_EQ(group->validate_commit("a", a.member_epoch, 8, false), ErrorCode::UNSUPPORTED_VERSION);
  EXPECT_EQ(group->validate_commit("b", a.member_epoch, 9, false), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group->validate_fetch(std::nullopt, -1), ErrorCode::NONE);
  EXPECT_EQ(group->validate_fetch(std::string("a"), a.member_epoch), ErrorCode::NONE);
  EXPECT_EQ(group->validate_fetch(std::string("a"), 0), ErrorCode::STALE_MEMBER_EPOCH);
  EXPECT_EQ(group->validate_fetch(std::string("b"), 1), ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(ConsumerGroupTest, SnapshotRoundTripThroughTheRecordFormat) {
  std::map<std::string, std::pair<int32_t, TopicAssignment>> members;
  for (auto id : {"a", "b"}) {
    auto r = join(id, id == std::string("b") ? std::optional<std::string>("inst") : std::nullopt);
    members[id] = {r.member_epoch, r.assignment.value_or(TopicAssignment{})};
  }
  beat("a", members["a"].first, members["a"].second);  // a is revoking now
  auto bytes = encode_value(group->snapshot());
  auto restored = std::make_unique<ConsumerGroup>("g", config);
  restored->restore(decode_consumer_group_value(bytes), now);
  EXPECT_EQ(restored->group_epoch(), group->group_epoch());
  EXPECT_EQ(restored->assignment_epoch(), group->assignment_epoch());
  ASSERT_EQ(restored->members().size(), 2u);
  for (const auto& [id, m] : group->members()) {
    EXPECT_TRUE(restored->members().at(id).same_state(m)) << id;
    EXPECT_EQ(restored->target(id), group->target(id)) << id;
  }
  // Members carry on with the restored group, without a new epoch.
  group = std::move(restored);
  auto epoch = group->group_epoch();
  auto b = beat("b", members["b"].first, members["b"].second, "inst");
  EXPECT_EQ(b.error, ErrorCode::NONE);
  EXPECT_EQ(group->group_epoch(), epoch);
}

TEST(ConsumerHeartbeatValidation, KafkasMessages) {
  std::vector<std::string> assignors = {"uniform", "range"};
  ConsumerHeartbeat hb;
  hb.member_epoch = 0;
  hb.member_id = "m";
  hb.rebalance_timeout_ms = 1000;
  hb.subscribed_topic_names = std::vector<std::string>{"t"};
  hb.owned = TopicAssignment{};
  EXPECT_EQ(validate_heartbeat(hb, 1, assignors).first, ErrorCode::NONE);
  auto bad = hb;
  bad.member_id = "";
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors),
            std::pair(ErrorCode::INVALID_REQUEST, std::string("MemberId can't be empty.")));
  EXPECT_EQ(validate_heartbeat(bad, 0, assignors).first, ErrorCode::NONE);  // v0: the coordinator makes one
  bad = hb;
  bad.rebalance_timeout_ms = -1;
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).first, ErrorCode::INVALID_REQUEST);
  bad = hb;
  bad.owned = std::nullopt;
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).first, ErrorCode::INVALID_REQUEST);
  bad = hb;
  bad.subscribed_topic_names = std::nullopt;
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).first, ErrorCode::INVALID_REQUEST);
  bad = hb;
  bad.member_epoch = -3;
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).second, "MemberEpoch is invalid.");
  bad = hb;
  bad.member_epoch = kLeaveStaticEpoch;
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).second, "InstanceId can't be null.");
  bad = hb;
  bad.instance_id = "";
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).second, "InstanceId can't be empty.");
  bad = hb;
  bad.server_assignor = "sticky";
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).first, ErrorCode::UNSUPPORTED_ASSIGNOR);
  bad = hb;
  bad.subscribed_topic_regex = "(unclosed";
  EXPECT_EQ(validate_heartbeat(bad, 1, assignors).first, ErrorCode::INVALID_REGULAR_EXPRESSION);
}

}  // namespace
}  // namespace runnel::group
