// The consumer group state machine, driven with a fake clock.
#include "group/group.h"

#include <gtest/gtest.h>

#include "group/offsets_format.h"

namespace runnel::group {
namespace {

using namespace std::chrono_literals;

struct Fixture : ::testing::Test {
  GroupLimits limits{1000, 60000, 0};
  Group group{"g", limits};
  Clock::time_point now = Clock::time_point{} + 1h;

  JoinRequest request(const std::string& member_id = "", std::optional<std::string> instance = std::nullopt) {
    JoinRequest r;
    r.member_id = member_id;
    r.group_instance_id = instance;
    r.protocol_type = "consumer";
    r.protocols = {{"range", {1}}, {"roundrobin", {2}}};
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 30000;
    r.client_id = "client";
    return r;
  }

  // Joins and returns the result, which must arrive before the call returns
  // when it is the only outstanding join.
  std::optional<JoinResult> join(const JoinRequest& r) {
    std::optional<JoinResult> out;
    group.join(r, now, [&](JoinResult j) { out = j; });
    return out;
  }
};

TEST_F(Fixture, FirstMemberBecomesLeaderOfGenerationOne) {
  auto r = join(request());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, ErrorCode::NONE);
  EXPECT_EQ(r->generation_id, 1);
  EXPECT_EQ(r->leader, r->member_id);
  EXPECT_EQ(r->protocol_name, "range");
  ASSERT_EQ(r->members.size(), 1u);
  EXPECT_EQ(group.state(), GroupState::CompletingRebalance);
}

TEST_F(Fixture, MemberIdRequiredThenJoin) {
  auto req = request();
  req.require_known_member_id = true;
  auto first = join(req);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->error, ErrorCode::MEMBER_ID_REQUIRED);
  EXPECT_FALSE(first->member_id.empty());
  auto second = join(request(first->member_id));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->error, ErrorCode::NONE);
  EXPECT_EQ(second->member_id, first->member_id);
}

TEST_F(Fixture, SyncDistributesLeaderAssignment) {
  auto a = join(request());
  std::optional<SyncResult> sa;
  SyncRequest s;
  s.member_id = a->member_id;
  s.generation_id = a->generation_id;
  s.assignments[a->member_id] = {7, 7};
  group.sync(s, now, [&](SyncResult r) { sa = r; });
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->error, ErrorCode::NONE);
  EXPECT_EQ(sa->assignment, (Bytes{7, 7}));
  EXPECT_EQ(group.state(), GroupState::Stable);
  EXPECT_EQ(group.heartbeat(a->member_id, std::nullopt, a->generation_id, now), ErrorCode::NONE);
  EXPECT_EQ(group.heartbeat(a->member_id, std::nullopt, 99, now), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(group.heartbeat("nobody", std::nullopt, 1, now), ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(Fixture, SecondMemberTriggersRebalanceBothGetGenerationTwo) {
  auto a = join(request());
  SyncRequest s{a->member_id, a->generation_id, {}, {}, {}, {{a->member_id, {1}}}};
  group.sync(s, now, [](SyncResult) {});
  ASSERT_EQ(group.state(), GroupState::Stable);

  std::optional<JoinResult> b;
  group.join(request(), now, [&](JoinResult r) { b = r; });
  EXPECT_FALSE(b) << "b waits until a rejoins";
  EXPECT_EQ(group.state(), GroupState::PreparingRebalance);
  EXPECT_EQ(group.heartbeat(a->member_id, std::nullopt, 1, now), ErrorCode::REBALANCE_IN_PROGRESS);

  auto a2 = join(request(a->member_id));
  ASSERT_TRUE(a2);
  ASSERT_TRUE(b);
  EXPECT_EQ(a2->generation_id, 2);
  EXPECT_EQ(b->generation_id, 2);
  EXPECT_EQ(a2->leader, a->member_id);
  EXPECT_EQ(a2->members.size(), 2u);
  EXPECT_TRUE(b->members.empty());
}

TEST_F(Fixture, UnloadAnswersEveryWaitingMemberAndKillsTheGroup) {
  auto a = join(request());
  SyncRequest s{a->member_id, a->generation_id, {}, {}, {}, {{a->member_id, {1}}}};
  group.sync(s, now, [](SyncResult) {});
  std::optional<JoinResult> b;
  group.join(request(), now, [&](JoinResult r) { b = r; });
  ASSERT_FALSE(b);
  group.unload(ErrorCode::NOT_COORDINATOR);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->error, ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(group.state(), GroupState::Dead);
}

TEST_F(Fixture, SessionTimeoutRemovesMemberAndRebalances) {
  auto a = join(request());
  group.sync(SyncRequest{a->member_id, 1, {}, {}, {}, {}}, now, [](SyncResult) {});
  std::optional<JoinResult> b;
  group.join(request(), now, [&](JoinResult r) { b = r; });
  auto a2 = join(request(a->member_id));
  ASSERT_TRUE(b);
  group.sync(SyncRequest{a->member_id, 2, {}, {}, {}, {}}, now, [](SyncResult) {});
  group.sync(SyncRequest{b->member_id, 2, {}, {}, {}, {}}, now, [](SyncResult) {});
  ASSERT_EQ(group.state(), GroupState::Stable);

  // b keeps heartbeating, a goes silent.
  now += 6s;
  EXPECT_EQ(group.heartbeat(b->member_id, std::nullopt, 2, now), ErrorCode::NONE);
  now += 6s;
  group.tick(now);
  EXPECT_EQ(group.members().count(a->member_id), 0u);
  EXPECT_EQ(group.state(), GroupState::PreparingRebalance);
  EXPECT_EQ(group.heartbeat(b->member_id, std::nullopt, 2, now), ErrorCode::REBALANCE_IN_PROGRESS);
  auto b2 = join(request(b->member_id));
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->generation_id, 3);
  EXPECT_EQ(b2->leader, b->member_id);
}

TEST_F(Fixture, LeaveLastMemberEmptiesGroup) {
  auto a = join(request());
  EXPECT_EQ(group.leave(a->member_id, std::nullopt, now), ErrorCode::NONE);
  EXPECT_EQ(group.state(), GroupState::Empty);
  EXPECT_EQ(group.leave(a->member_id, std::nullopt, now), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group.validate_commit("", std::nullopt, -1), ErrorCode::NONE);
}

TEST_F(Fixture, RebalanceTimeoutDropsMembersThatDoNotRejoin) {
  auto a = join(request());
  group.sync(SyncRequest{a->member_id, 1, {}, {}, {}, {}}, now, [](SyncResult) {});
  std::optional<JoinResult> b;
  group.join(request(), now, [&](JoinResult r) { b = r; });
  EXPECT_FALSE(b);
  now += 31s;  // past the rebalance timeout; a never rejoined
  group.tick(now);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->error, ErrorCode::NONE);
  EXPECT_EQ(group.members().size(), 1u);
  EXPECT_EQ(b->leader, b->member_id);
}

TEST_F(Fixture, StaticMemberRejoinKeepsAssignmentWithoutRebalance) {
  auto a = join(request("", "instance-1"));
  group.sync(SyncRequest{a->member_id, 1, "instance-1", {}, {}, {{a->member_id, {4, 2}}}}, now, [](SyncResult) {});
  ASSERT_EQ(group.state(), GroupState::Stable);
  auto again = join(request("", "instance-1"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->error, ErrorCode::NONE);
  EXPECT_EQ(again->generation_id, 1);
  EXPECT_NE(again->member_id, a->member_id);
  EXPECT_EQ(group.state(), GroupState::Stable);
  // The old member id is gone; with its instance id it is fenced.
  EXPECT_EQ(group.heartbeat(a->member_id, std::nullopt, 1, now), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group.heartbeat(a->member_id, "instance-1", 1, now), ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_EQ(group.heartbeat(again->member_id, "instance-1", 1, now), ErrorCode::NONE);
  EXPECT_EQ(again->member_id.rfind("instance-1-", 0), 0u) << "Kafka names static members after their instance";
  std::optional<SyncResult> s;
  group.sync(SyncRequest{again->member_id, 1, "instance-1", {}, {}, {}}, now, [&](SyncResult r) { s = r; });
  ASSERT_TRUE(s);
  EXPECT_EQ(s->assignment, (Bytes{4, 2}));
}

// A leader replaced in a Stable group: before JoinGroup v9 the answer names
// the old leader id, so the new process does not assign for a Stable group;
// from v9 it is told it leads, gets the members, and skips the assignment.
TEST_F(Fixture, ReplacedStaticLeaderBeforeAndAfterSkipAssignment) {
  for (bool v9 : {false, true}) {
    Group g{"g", limits};
    std::optional<JoinResult> a;
    g.join(request("", "leader"), now, [&](JoinResult r) { a = r; });
    ASSERT_TRUE(a);
    g.sync(SyncRequest{a->member_id, 1, "leader", {}, {}, {{a->member_id, {1}}}}, now, [](SyncResult) {});
    ASSERT_EQ(g.state(), GroupState::Stable);
    auto req = request("", "leader");
    req.supports_skip_assignment = v9;
    std::optional<JoinResult> b;
    g.join(req, now, [&](JoinResult r) { b = r; });
    ASSERT_TRUE(b);
    EXPECT_EQ(b->error, ErrorCode::NONE);
    EXPECT_EQ(b->generation_id, 1);
    EXPECT_EQ(g.leader(), b->member_id);
    EXPECT_EQ(b->skip_assignment, v9);
    EXPECT_EQ(b->leader, v9 ? b->member_id : a->member_id);
    EXPECT_EQ(b->members.size(), v9 ? 1u : 0u);
    EXPECT_EQ(g.state(), GroupState::Stable);
  }
}

// The replaced process is told at once if it was waiting on a join or sync.
TEST_F(Fixture, ReplacementFencesTheOldMembersWaitingRequests) {
  auto a = join(request());  // the leader, generation 1
  std::optional<JoinResult> s_join;
  group.join(request("", "s"), now, [&](JoinResult r) { s_join = r; });
  ASSERT_FALSE(s_join) << "waits for a to rejoin";
  // Replaced while its join waits: that join is answered FENCED_INSTANCE_ID.
  std::optional<JoinResult> s2_join;
  group.join(request("", "s"), now, [&](JoinResult r) { s2_join = r; });
  ASSERT_TRUE(s_join);
  EXPECT_EQ(s_join->error, ErrorCode::FENCED_INSTANCE_ID);
  ASSERT_FALSE(s2_join);
  ASSERT_TRUE(join(request(a->member_id)));  // everyone joined: generation 2
  ASSERT_TRUE(s2_join);
  EXPECT_EQ(s2_join->generation_id, 2);
  // Replaced while its sync waits for the leader: that sync is fenced, and
  // the group starts over, as the leader may assign to the old member id.
  std::optional<SyncResult> waiting;
  group.sync(SyncRequest{s2_join->member_id, 2, "s", {}, {}, {}}, now, [&](SyncResult r) { waiting = r; });
  ASSERT_FALSE(waiting);
  auto s3 = join(request("", "s"));
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->error, ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_FALSE(s3);
  EXPECT_EQ(group.state(), GroupState::PreparingRebalance);
}

TEST_F(Fixture, LeaveByInstanceIdOnly) {
  auto a = join(request("", "s"));
  group.sync(SyncRequest{a->member_id, 1, "s", {}, {}, {}}, now, [](SyncResult) {});
  EXPECT_EQ(group.leave("", "nobody", now), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(group.leave("wrong-id", "s", now), ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_EQ(group.leave("", "s", now), ErrorCode::NONE);
  EXPECT_EQ(group.state(), GroupState::Empty);
  EXPECT_FALSE(group.static_member("s"));
}

TEST_F(Fixture, RejectsBadSessionTimeoutAndForeignProtocol) {
  auto r = request();
  r.session_timeout_ms = 10;
  EXPECT_EQ(join(r)->error, ErrorCode::INVALID_SESSION_TIMEOUT);
  join(request());
  auto other = request();
  other.protocols = {{"something-else", {}}};
  EXPECT_EQ(join(other)->error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
}

TEST_F(Fixture, CommitValidation) {
  auto a = join(request());
  EXPECT_EQ(group.validate_commit(a->member_id, std::nullopt, 1), ErrorCode::REBALANCE_IN_PROGRESS);
  group.sync(SyncRequest{a->member_id, 1, {}, {}, {}, {}}, now, [](SyncResult) {});
  EXPECT_EQ(group.validate_commit(a->member_id, std::nullopt, 1), ErrorCode::NONE);
  EXPECT_EQ(group.validate_commit(a->member_id, std::nullopt, 2), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(group.validate_commit("", std::nullopt, -1), ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(Fixture, RestoredMembersAreStableUntilTheirSessionsRunOut) {
  Member m;
  m.id = "client-1";
  m.client_id = "client";
  m.session_timeout_ms = 10000;
  m.rebalance_timeout_ms = 30000;
  m.protocol_type = "consumer";
  m.protocols = {{"range", {1}}};
  m.assignment = {4, 2};
  std::vector<Member> members{m};
  group.restore(5, "consumer", "range", "client-1", std::move(members), now);
  EXPECT_EQ(group.state(), GroupState::Stable);
  EXPECT_EQ(group.leader(), "client-1");
  // The member carries on where it was: heartbeats, commits and syncs of generation 5.
  EXPECT_EQ(group.heartbeat("client-1", std::nullopt, 5, now + 5s), ErrorCode::NONE);
  EXPECT_EQ(group.validate_commit("client-1", std::nullopt, 5), ErrorCode::NONE);
  std::optional<SyncResult> s;
  group.sync(SyncRequest{"client-1", 5, {}, {}, {}, {}}, now + 5s, [&](SyncResult r) { s = r; });
  ASSERT_TRUE(s);
  EXPECT_EQ(s->assignment, (Bytes{4, 2}));
  // Silent past its session: gone, and the group is Empty with a new generation.
  EXPECT_TRUE(group.tick(now + 16s));
  EXPECT_EQ(group.state(), GroupState::Empty);
  EXPECT_EQ(group.generation(), 6);
}

TEST(OffsetsFormat, GroupValueWithMembersRoundTrips) {
  GroupValue v;
  v.protocol_type = "consumer";
  v.generation = 7;
  v.protocol = "cooperative-sticky";
  v.leader = "a-1";
  v.state_timestamp = 1234;
  v.members.push_back({"a-1", "instance-a", "client-a", "/127.0.0.1", 30000, 10000, {1, 2}, {3}});
  v.members.push_back({"b-1", std::nullopt, "client-b", "/127.0.0.1", 60000, 45000, {}, {4, 5, 6}});
  auto bytes = encode_value(v);
  auto back = decode_group_value(bytes);
  EXPECT_EQ(back.protocol_type, v.protocol_type);
  EXPECT_EQ(back.generation, 7);
  EXPECT_EQ(back.protocol, v.protocol);
  EXPECT_EQ(back.leader, v.leader);
  EXPECT_EQ(back.state_timestamp, 1234);
  ASSERT_EQ(back.members.size(), 2u);
  EXPECT_EQ(back.members[0].group_instance_id, "instance-a");
  EXPECT_EQ(back.members[0].subscription, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(back.members[1].group_instance_id, std::nullopt);
  EXPECT_EQ(back.members[1].rebalance_timeout_ms, 60000);
  EXPECT_EQ(back.members[1].session_timeout_ms, 45000);
  EXPECT_EQ(back.members[1].assignment, (std::vector<uint8_t>{4, 5, 6}));
  // A truncated value is refused, not misread.
  bytes.resize(bytes.size() - 2);
  EXPECT_ANY_THROW(decode_group_value(bytes));
}

TEST(OffsetsFormat, SubscriptionTopics) {
  // ConsumerProtocolSubscription v1: version, topics ["a", "bc"], user data, owned partitions.
  std::vector<uint8_t> v1 = {0, 1, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  EXPECT_EQ(decode_subscription_topics(v1), (std::vector<std::string>{"a", "bc"}));
  v1.resize(10);  // cut inside the second topic name
  EXPECT_ANY_THROW(decode_subscription_topics(v1));
}

}  // namespace
}  // namespace runnel::group
