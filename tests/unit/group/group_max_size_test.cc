// Group size limits as Kafka 4 enforces them: group.max.size for classic
// groups (Kafka's acceptJoiningMember, and the rebalance of a group loaded
// over the limit) and group.consumer.max.size for consumer groups, classic
// members of a mixed group included (throwIfConsumerGroupIsFull).
#include <gtest/gtest.h>

#include "group/consumer_group.h"
#include "group/group.h"
#include "protocol/consumer_protocol.h"

namespace runnel::group {
namespace {

using namespace std::chrono_literals;

struct ClassicMaxSize : ::testing::Test {
  GroupLimits limits{1000, 60000, 0, /*max_size=*/2};
  Group group{"g", limits};
  Clock::time_point now = Clock::time_point{} + 1h;

  JoinRequest request(const std::string& member_id = "", std::optional<std::string> instance = std::nullopt) {
    JoinRequest r;
    r.member_id = member_id;
    r.group_instance_id = instance;
    r.protocol_type = "consumer";
    r.protocols = {{"range", {1}}};
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 30000;
    r.client_id = "client";
    return r;
  }
  // Starts a join; the answer lands in the returned slot when it comes.
  std::shared_ptr<std::optional<JoinResult>> start_join(const JoinRequest& r) {
    auto out = std::make_shared<std::optional<JoinResult>>();
    group.join(r, now, [out](JoinResult j) { *out = std::move(j); });
    return out;
  }
  void sync_all(int32_t generation) {
    for (const auto& [id, _] : group.members())
      group.sync(SyncRequest{id, generation, {}, {}, {}, {}}, now, [](SyncResult) {});
  }
  // A Stable group of two members, a (static, instance "i-a") and b.
  std::pair<std::string, std::string> full_stable_group() {
    auto a = start_join(request("", "i-a"));
    EXPECT_TRUE(*a);
    auto b = start_join(request());
    auto a2 = start_join(request((*a)->member_id, "i-a"));
    EXPECT_TRUE(*b && *a2);
    sync_all((*b)->generation_id);
    EXPECT_EQ(group.state(), GroupState::Stable);
    EXPECT_EQ(group.members().size(), 2u);
    return {(*a)->member_id, (*b)->member_id};
  }
};

TEST_F(ClassicMaxSize, FullStableGroupRefusesNewMembersOnly) {
  auto [a, b] = full_stable_group();
  int32_t generation = group.generation();

  auto c = start_join(request());
  ASSERT_TRUE(*c);
  EXPECT_EQ((*c)->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ((*c)->member_id, "");
  // Refused before an id is handed out (KIP-394) ...
  auto required = request();
  required.require_known_member_id = true;
  EXPECT_EQ((*start_join(required))->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // ... and an unknown member id is refused the same way.
  EXPECT_EQ((*start_join(request("someone-else")))->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // As in Kafka 4.0-4.2, a static member back under a new member id counts
  // as a new member: the full group turns it away and keeps the old one.
  EXPECT_EQ((*start_join(request("", "i-a")))->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ(group.static_member("i-a").value_or(""), a);

  // Nothing changed for the members: no rebalance.
  EXPECT_EQ(group.state(), GroupState::Stable);
  EXPECT_EQ(group.generation(), generation);
  EXPECT_EQ(group.heartbeat(a, "i-a", generation, now), ErrorCode::NONE);
  EXPECT_EQ(group.heartbeat(b, std::nullopt, generation, now), ErrorCode::NONE);
  // A member of the group rejoins freely.
  auto b2 = start_join(request(b));
  ASSERT_TRUE(*b2);
  EXPECT_EQ((*b2)->error, ErrorCode::NONE);

  // Once one leaves there is room again.
  EXPECT_EQ(group.leave(b, std::nullopt, now), ErrorCode::NONE);
  auto d = start_join(request());
  auto a3 = start_join(request(a, "i-a"));
  ASSERT_TRUE(*d);
  EXPECT_EQ((*d)->error, ErrorCode::NONE);
  EXPECT_EQ(group.members().size(), 2u);
}

TEST_F(ClassicMaxSize, GroupLoadedOverTheLimitKeepsTheFirstToRejoin) {
  std::vector<Member> members;
  for (const char* id : {"m1", "m2", "m3"}) {
    Member m;
    m.id = id;
    m.session_timeout_ms = 10000;
    m.rebalance_timeout_ms = 30000;
    m.protocol_type = "consumer";
    m.protocols = {{"range", {1}}};
    members.push_back(m);
  }
  group.restore(5, "consumer", "range", "m1", std::move(members), now);
  ASSERT_EQ(group.state(), GroupState::Stable);
  EXPECT_TRUE(group.rebalance_if_over_capacity(now));
  EXPECT_EQ(group.state(), GroupState::PreparingRebalance);
  EXPECT_EQ(group.heartbeat("m2", std::nullopt, 5, now), ErrorCode::REBALANCE_IN_PROGRESS);

  // m3 and m1 rejoin first and stay; m2, last, is turned away and removed.
  auto m3 = start_join(request("m3"));
  auto m1 = start_join(request("m1"));
  EXPECT_FALSE(*m3);
  auto m2 = start_join(request("m2"));
  ASSERT_TRUE(*m2);
  EXPECT_EQ((*m2)->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ((*m2)->member_id, "");
  // Nobody else is waited for: generation 6 of m1 and m3.
  ASSERT_TRUE(*m1 && *m3);
  EXPECT_EQ((*m1)->error, ErrorCode::NONE);
  EXPECT_EQ((*m1)->generation_id, 6);
  EXPECT_EQ((*m1)->members.size(), 2u);  // m1 still leads
  EXPECT_EQ(group.members().size(), 2u);
  EXPECT_EQ(group.members().count("m2"), 0u);
  EXPECT_EQ(group.state(), GroupState::CompletingRebalance);
  // Within the limit now: nothing to do on the next load.
  EXPECT_FALSE(group.rebalance_if_over_capacity(now));
}

TEST_F(ClassicMaxSize, RebalanceCountsRejoinedMembersAndForgetsRefusedIds) {
  auto a = start_join(request());
  ASSERT_TRUE(*a);
  sync_all(1);
  ASSERT_EQ(group.state(), GroupState::Stable);
  // b is handed a member id (one member: there is room) ...
  auto first = request();
  first.require_known_member_id = true;
  auto b = start_join(first);
  ASSERT_EQ((*b)->error, ErrorCode::MEMBER_ID_REQUIRED);
  // ... but c joins at once (a static member) and a rejoins: two have
  // joined this rebalance, as many as the group may have.
  auto c = start_join(request("", "i-c"));
  auto a2 = start_join(request((*a)->member_id));
  EXPECT_FALSE(*c);  // the rebalance still waits for b's id
  auto b2 = start_join(request((*b)->member_id));
  ASSERT_TRUE(*b2);
  EXPECT_EQ((*b2)->error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // b's id is forgotten, so the rebalance no longer waits for it.
  ASSERT_TRUE(*c && *a2);
  EXPECT_EQ((*c)->error, ErrorCode::NONE);
  EXPECT_EQ((*c)->generation_id, 2);
  EXPECT_EQ(group.members().size(), 2u);
}

struct ConsumerMaxSize : ::testing::Test {
  ConsumerGroupConfig config = [] {
    ConsumerGroupConfig c;
    c.max_size = 2;
    return c;
  }();
  ConsumerGroup group{"g", config};
  ConsumerClock::time_point now = ConsumerClock::time_point{} + 1h;
  TopicCatalog catalog;

  ConsumerMaxSize() {
    TopicUuid id{};
    id[0] = 9;
    catalog.find = [id](const std::string& name) -> std::optional<SubscribedTopic> {
      if (name != "t") return std::nullopt;
      return SubscribedTopic{id, "t", 4};
    };
    catalog.names = [] { return std::vector<std::string>{"t"}; };
  }
  ConsumerHeartbeatResult beat(const std::string& id, int32_t epoch,
                               std::optional<std::string> instance = std::nullopt) {
    ConsumerHeartbeat hb;
    hb.member_id = id;
    hb.member_epoch = epoch;
    hb.instance_id = instance;
    if (epoch == 0) {
      hb.rebalance_timeout_ms = 30000;
      hb.subscribed_topic_names = std::vector<std::string>{"t"};
      hb.owned = TopicAssignment{};
    }
    return group.heartbeat(hb, catalog, now);
  }
  JoinRequest classic(const std::string& id) {
    JoinRequest r;
    r.member_id = id;
    r.protocol_type = "consumer";
    r.protocols = {{"range", protocol::encode_consumer_subscription({"t"})}};
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 20000;
    return r;
  }
};

TEST_F(ConsumerMaxSize, HeartbeatOfANewMemberToAFullGroup) {
  ASSERT_EQ(beat("a", 0).error, ErrorCode::NONE);
  auto b = beat("b", 0, "i-b");
  ASSERT_EQ(b.error, ErrorCode::NONE);
  int32_t epoch = group.group_epoch();

  auto c = beat("c", 0);
  EXPECT_EQ(c.error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ(c.message, "The consumer group has reached its maximum capacity of 2 members.");
  EXPECT_EQ(beat("", 0).error, ErrorCode::GROUP_MAX_SIZE_REACHED);  // v0: the coordinator would name it
  // Checked before the member is looked at, as Kafka: an unknown member
  // gets GROUP_MAX_SIZE_REACHED rather than UNKNOWN_MEMBER_ID ...
  EXPECT_EQ(beat("nobody", 3).error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // ... and a static member back under a new member id too (Kafka 4.0-4.2).
  EXPECT_EQ(beat("b", -2, "i-b").error, ErrorCode::NONE);
  EXPECT_EQ(beat("b-new", 0, "i-b").error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // Leaving is not a join: no size check.
  EXPECT_EQ(beat("nobody", -1).error, ErrorCode::UNKNOWN_MEMBER_ID);

  // The members carry on; one of them rejoins with its own id.
  EXPECT_EQ(group.members().size(), 2u);
  EXPECT_EQ(group.group_epoch(), epoch);
  EXPECT_EQ(beat("a", group.members().at("a").epoch).error, ErrorCode::NONE);
  EXPECT_EQ(beat("a", 0).error, ErrorCode::NONE);

  // Room again once one leaves.
  EXPECT_EQ(beat("a", -1).error, ErrorCode::NONE);
  EXPECT_EQ(beat("c", 0).error, ErrorCode::NONE);
}

TEST_F(ConsumerMaxSize, ClassicMembersOfAMixedGroupCount) {
  ASSERT_EQ(beat("a", 0).error, ErrorCode::NONE);
  auto k = group.classic_join(classic(""), catalog, now);
  ASSERT_EQ(k.error, ErrorCode::NONE);
  ASSERT_EQ(group.members().size(), 2u);

  // A third member, of either protocol, is refused.
  auto refused = group.classic_join(classic(""), catalog, now);
  EXPECT_EQ(refused.error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ(refused.member_id, "");
  auto required = classic("");
  required.require_known_member_id = true;
  EXPECT_EQ(group.classic_join(required, catalog, now).error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  // The size check comes before the protocol checks, as Kafka's.
  auto foreign = classic("");
  foreign.protocol_type = "connect";
  EXPECT_EQ(group.classic_join(foreign, catalog, now).error, ErrorCode::GROUP_MAX_SIZE_REACHED);
  EXPECT_EQ(beat("c", 0).error, ErrorCode::GROUP_MAX_SIZE_REACHED);

  // The classic member rejoins as before.
  auto again = group.classic_join(classic(k.member_id), catalog, now);
  EXPECT_EQ(again.error, ErrorCode::NONE);
  EXPECT_EQ(again.member_id, k.member_id);
  EXPECT_EQ(group.members().size(), 2u);
}

}  // namespace
}  // namespace runnel::group
