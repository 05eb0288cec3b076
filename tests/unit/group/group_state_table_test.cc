// Every transition of src/group/STATE_TABLE.md, checked against the table:
// kRows is the oracle (state, event) -> (answer, next state, generation step,
// members), and each row runs on a fresh group brought into its state.
//
// The group: A, a dynamic member and the leader (session 20 s), and B, a
// static member with instance id "ib" (session 5 s); both offer
// range/roundrobin, and both rebalance timeouts are 30 s.
#include <gtest/gtest.h>

#include "group/group.h"

namespace runnel::group {
namespace {

using namespace std::chrono_literals;
using S = GroupState;

enum class Event {
  JoinFollowerSame,
  JoinFollowerChanged,
  JoinLeaderSame,
  JoinLeaderChanged,
  JoinNewDynamicV4,
  JoinNewDynamic,
  JoinNewStatic,
  ReplaceStatic,
  ReplaceStaticChangingProtocol,
  ReplaceThenOldHeartbeat,
  ReplaceThenOldSync,
  ReplaceThenOldCommit,
  ReplaceThenOldJoin,
  ReplaceThenOldLeave,
  HeartbeatFollower,
  HeartbeatStaleGeneration,
  HeartbeatUnknownMember,
  SyncFollower,
  SyncLeader,
  LeaveFollower,
  LeaveByInstance,
  LeaveInstanceWithWrongMember,
  LeaveLeader,
  Commit,
  CommitWithoutGeneration,
  FollowerSessionExpires,
  RebalanceTimeoutWithoutFollower,
  FollowerNeverSyncs,
};

const char* event_name(Event e) {
  static const char* names[] = {"JoinFollowerSame",
                                "JoinFollowerChanged",
                                "JoinLeaderSame",
                                "JoinLeaderChanged",
                                "JoinNewDynamicV4",
                                "JoinNewDynamic",
                                "JoinNewStatic",
                                "ReplaceStatic",
                                "ReplaceStaticChangingProtocol",
                                "ReplaceThenOldHeartbeat",
                                "ReplaceThenOldSync",
                                "ReplaceThenOldCommit",
                                "ReplaceThenOldJoin",
                                "ReplaceThenOldLeave",
                                "HeartbeatFollower",
                                "HeartbeatStaleGeneration",
                                "HeartbeatUnknownMember",
                                "SyncFollower",
                                "SyncLeader",
                                "LeaveFollower",
                                "LeaveByInstance",
                                "LeaveInstanceWithWrongMember",
                                "LeaveLeader",
                                "Commit",
                                "CommitWithoutGeneration",
                                "FollowerSessionExpires",
                                "RebalanceTimeoutWithoutFollower",
                                "FollowerNeverSyncs"};
  return names[static_cast<int>(e)];
}

constexpr std::optional<ErrorCode> kWaits = std::nullopt;  // the request is answered later

struct Row {
  S from;
  Event event;
  std::optional<ErrorCode> answer;  // the event's own answer, or kWaits
  S to;
  int generation_step;
  size_t members;
};

using E = Event;
using C = ErrorCode;

// The oracle: STATE_TABLE.md, one line per (state, event).
const Row kRows[] = {
    // Empty (A and B joined, synced, then both left)
    {S::Empty, E::JoinFollowerSame, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::JoinNewDynamicV4, C::MEMBER_ID_REQUIRED, S::Empty, 0, 0},
    {S::Empty, E::JoinNewDynamic, kWaits, S::PreparingRebalance, 0, 1},  // the initial delay runs
    {S::Empty, E::JoinNewStatic, kWaits, S::PreparingRebalance, 0, 1},
    {S::Empty, E::HeartbeatFollower, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::SyncFollower, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::LeaveFollower, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::LeaveByInstance, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::Commit, C::UNKNOWN_MEMBER_ID, S::Empty, 0, 0},
    {S::Empty, E::CommitWithoutGeneration, C::NONE, S::Empty, 0, 0},

    // PreparingRebalance (the leader A rejoined and waits; B has not joined)
    {S::PreparingRebalance, E::JoinFollowerSame, C::NONE, S::CompletingRebalance, 1, 2},
    {S::PreparingRebalance, E::JoinFollowerChanged, C::NONE, S::CompletingRebalance, 1, 2},
    {S::PreparingRebalance, E::JoinLeaderSame, kWaits, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::JoinNewDynamicV4, C::MEMBER_ID_REQUIRED, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::JoinNewDynamic, kWaits, S::PreparingRebalance, 0, 3},
    {S::PreparingRebalance, E::JoinNewStatic, kWaits, S::PreparingRebalance, 0, 3},
    {S::PreparingRebalance, E::ReplaceStatic, C::NONE, S::CompletingRebalance, 1, 2},
    {S::PreparingRebalance, E::ReplaceThenOldHeartbeat, C::FENCED_INSTANCE_ID, S::CompletingRebalance, 1, 2},
    {S::PreparingRebalance, E::HeartbeatFollower, C::REBALANCE_IN_PROGRESS, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::HeartbeatStaleGeneration, C::ILLEGAL_GENERATION, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::SyncFollower, C::REBALANCE_IN_PROGRESS, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::LeaveFollower, C::NONE, S::CompletingRebalance, 1, 1},
    {S::PreparingRebalance, E::LeaveByInstance, C::NONE, S::CompletingRebalance, 1, 1},
    {S::PreparingRebalance, E::LeaveInstanceWithWrongMember, C::FENCED_INSTANCE_ID, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::LeaveLeader, C::NONE, S::PreparingRebalance, 0, 1},
    {S::PreparingRebalance, E::Commit, C::NONE, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::CommitWithoutGeneration, C::UNKNOWN_MEMBER_ID, S::PreparingRebalance, 0, 2},
    {S::PreparingRebalance, E::FollowerSessionExpires, kWaits, S::CompletingRebalance, 1, 1},
    {S::PreparingRebalance, E::RebalanceTimeoutWithoutFollower, kWaits, S::CompletingRebalance, 1, 2},

    // CompletingRebalance (generation joined by A and B, no SyncGroup yet)
    {S::CompletingRebalance, E::JoinFollowerSame, C::NONE, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::JoinFollowerChanged, kWaits, S::PreparingRebalance, 0, 2},
    {S::CompletingRebalance, E::JoinLeaderSame, C::NONE, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::JoinLeaderChanged, kWaits, S::PreparingRebalance, 0, 2},
    {S::CompletingRebalance, E::JoinNewDynamicV4, C::MEMBER_ID_REQUIRED, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::JoinNewDynamic, kWaits, S::PreparingRebalance, 0, 3},
    {S::CompletingRebalance, E::ReplaceStatic, kWaits, S::PreparingRebalance, 0, 2},
    {S::CompletingRebalance, E::ReplaceThenOldHeartbeat, C::FENCED_INSTANCE_ID, S::PreparingRebalance, 0, 2},
    {S::CompletingRebalance, E::HeartbeatFollower, C::NONE, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::SyncFollower, kWaits, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::SyncLeader, C::NONE, S::Stable, 0, 2},
    {S::CompletingRebalance, E::LeaveFollower, C::NONE, S::PreparingRebalance, 0, 1},
    {S::CompletingRebalance, E::Commit, C::REBALANCE_IN_PROGRESS, S::CompletingRebalance, 0, 2},
    {S::CompletingRebalance, E::FollowerSessionExpires, kWaits, S::PreparingRebalance, 0, 1},
    {S::CompletingRebalance, E::FollowerNeverSyncs, kWaits, S::PreparingRebalance, 0, 1},

    // Stable (A and B synced)
    {S::Stable, E::JoinFollowerSame, C::NONE, S::Stable, 0, 2},
    {S::Stable, E::JoinFollowerChanged, kWaits, S::PreparingRebalance, 0, 2},
    {S::Stable, E::JoinLeaderSame, kWaits, S::PreparingRebalance, 0, 2},
    {S::Stable, E::JoinLeaderChanged, kWaits, S::PreparingRebalance, 0, 2},
    {S::Stable, E::JoinNewDynamicV4, C::MEMBER_ID_REQUIRED, S::Stable, 0, 2},
    {S::Stable, E::JoinNewDynamic, kWaits, S::PreparingRebalance, 0, 3},
    {S::Stable, E::JoinNewStatic, kWaits, S::PreparingRebalance, 0, 3},
    {S::Stable, E::ReplaceStatic, C::NONE, S::Stable, 0, 2},
    {S::Stable, E::ReplaceStaticChangingProtocol, kWaits, S::PreparingRebalance, 0, 2},
    {S::Stable, E::ReplaceThenOldHeartbeat, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::ReplaceThenOldSync, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::ReplaceThenOldCommit, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::ReplaceThenOldJoin, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::ReplaceThenOldLeave, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::HeartbeatFollower, C::NONE, S::Stable, 0, 2},
    {S::Stable, E::HeartbeatStaleGeneration, C::ILLEGAL_GENERATION, S::Stable, 0, 2},
    {S::Stable, E::HeartbeatUnknownMember, C::UNKNOWN_MEMBER_ID, S::Stable, 0, 2},
    {S::Stable, E::SyncFollower, C::NONE, S::Stable, 0, 2},
    {S::Stable, E::LeaveFollower, C::NONE, S::PreparingRebalance, 0, 1},
    {S::Stable, E::LeaveByInstance, C::NONE, S::PreparingRebalance, 0, 1},
    {S::Stable, E::LeaveInstanceWithWrongMember, C::FENCED_INSTANCE_ID, S::Stable, 0, 2},
    {S::Stable, E::LeaveLeader, C::NONE, S::PreparingRebalance, 0, 1},
    {S::Stable, E::Commit, C::NONE, S::Stable, 0, 2},
    {S::Stable, E::CommitWithoutGeneration, C::UNKNOWN_MEMBER_ID, S::Stable, 0, 2},
    {S::Stable, E::FollowerSessionExpires, kWaits, S::PreparingRebalance, 0, 1},

    // Dead (deleted): every request is sent elsewhere
    {S::Dead, E::JoinFollowerSame, C::COORDINATOR_NOT_AVAILABLE, S::Dead, 0, 2},
    {S::Dead, E::HeartbeatFollower, C::COORDINATOR_NOT_AVAILABLE, S::Dead, 0, 2},
    {S::Dead, E::SyncFollower, C::COORDINATOR_NOT_AVAILABLE, S::Dead, 0, 2},
    {S::Dead, E::LeaveFollower, C::COORDINATOR_NOT_AVAILABLE, S::Dead, 0, 2},
    {S::Dead, E::Commit, C::COORDINATOR_NOT_AVAILABLE, S::Dead, 0, 2},
};

const std::vector<Protocol> kSame = {{"range", {1}}, {"roundrobin", {2}}};
const std::vector<Protocol> kChanged = {{"range", {1, 9}}, {"roundrobin", {2, 9}}};
const std::vector<Protocol> kRoundRobinOnly = {{"roundrobin", {2}}};

class StateTable : public ::testing::TestWithParam<Row> {
 protected:
  GroupLimits limits{1000, 60000, 100};
  Group group{"g", limits};
  Clock::time_point now = Clock::time_point{} + 1h;
  std::string a, b;  // member ids of A (leader) and B (static "ib")
  std::optional<JoinResult> a_join, b_join;

  JoinRequest join_request(const std::string& member_id, std::optional<std::string> instance,
                           const std::vector<Protocol>& protocols = kSame) {
    JoinRequest r;
    r.member_id = member_id;
    r.group_instance_id = std::move(instance);
    r.protocol_type = "consumer";
    r.protocols = protocols;
    r.session_timeout_ms = r.group_instance_id ? 5000 : 20000;
    r.rebalance_timeout_ms = 30000;
    r.client_id = "c";
    return r;
  }
  void join(const JoinRequest& r, std::optional<JoinResult>& out) {
    out.reset();
    group.join(r, now, [&out](JoinResult j) { out = std::move(j); });
  }
  std::optional<SyncResult> sync(const std::string& id, std::optional<std::string> instance,
                                 std::map<std::string, Bytes> assignments = {}) {
    std::optional<SyncResult> out;
    group.sync(SyncRequest{id, group.generation(), std::move(instance), {}, {}, std::move(assignments)}, now,
               [&out](SyncResult s) { out = std::move(s); });
    return out;
  }

  // Brings the group into `state` (see kRows' section comments).
  void setup(S state) {
    join(join_request("", std::nullopt), a_join);
    now += 10ms;
    join(join_request("", "ib"), b_join);
    now += 200ms;  // past the initial delay
    group.tick(now);
    ASSERT_TRUE(a_join && b_join);
    a = a_join->member_id;
    b = b_join->member_id;
    ASSERT_EQ(a_join->leader, a);
    ASSERT_EQ(group.state(), S::CompletingRebalance);
    if (state == S::CompletingRebalance) return;
    sync(b, "ib");
    ASSERT_EQ(sync(a, std::nullopt, {{a, {0xA}}, {b, {0xB}}})->error, C::NONE);
    ASSERT_EQ(group.state(), S::Stable);
    if (state == S::Stable) return;
    if (state == S::Dead) return group.mark_dead();
    if (state == S::PreparingRebalance) {
      join(join_request(a, std::nullopt), a_join);
      ASSERT_FALSE(a_join);
      ASSERT_EQ(group.state(), S::PreparingRebalance);
      return;
    }
    ASSERT_EQ(group.leave(a, std::nullopt, now), C::NONE);
    ASSERT_EQ(group.leave(b, "ib", now), C::NONE);
    ASSERT_EQ(group.state(), S::Empty);
  }

  // Replaces B by a new process with the same instance id; returns its answer.
  std::optional<JoinResult> replace(const std::vector<Protocol>& protocols = kSame) {
    std::optional<JoinResult> out;
    join(join_request("", "ib", protocols), out);
    return out;
  }

  // Runs one event; returns the answer the event's request got (nullopt: none yet).
  std::optional<ErrorCode> run(Event e) {
    std::optional<JoinResult> j;
    auto answer = [](const std::optional<JoinResult>& r) -> std::optional<ErrorCode> {
      return r ? std::optional(r->error) : std::nullopt;
    };
    auto sync_answer = [](const std::optional<SyncResult>& r) -> std::optional<ErrorCode> {
      return r ? std::optional(r->error) : std::nullopt;
    };
    int32_t gen = group.generation();
    switch (e) {
      case E::JoinFollowerSame:
        return join(join_request(b, "ib"), b_join), answer(b_join);
      case E::JoinFollowerChanged:
        return join(join_request(b, "ib", kChanged), b_join), answer(b_join);
      case E::JoinLeaderSame:
        return join(join_request(a, std::nullopt), j), answer(j);
      case E::JoinLeaderChanged:
        return join(join_request(a, std::nullopt, kChanged), j), answer(j);
      case E::JoinNewDynamicV4: {
        auto r = join_request("", std::nullopt);
        r.require_known_member_id = true;
        return join(r, j), answer(j);
      }
      case E::JoinNewDynamic:
        return join(join_request("", std::nullopt), j), answer(j);
      case E::JoinNewStatic:
        return join(join_request("", "ic"), j), answer(j);
      case E::ReplaceStatic:
        return answer(replace());
      case E::ReplaceStaticChangingProtocol:
        return answer(replace(kRoundRobinOnly));
      case E::ReplaceThenOldHeartbeat:
        replace();
        return group.heartbeat(b, "ib", group.generation(), now);
      case E::ReplaceThenOldSync:
        replace();
        return sync_answer(sync(b, "ib"));
      case E::ReplaceThenOldCommit:
        replace();
        return group.validate_commit(b, "ib", gen);
      case E::ReplaceThenOldJoin:
        replace();
        return join(join_request(b, "ib"), j), answer(j);
      case E::ReplaceThenOldLeave:
        replace();
        return group.leave(b, "ib", now);
      case E::HeartbeatFollower:
        return group.heartbeat(b, "ib", gen, now);
      case E::HeartbeatStaleGeneration:
        return group.heartbeat(b, "ib", gen + 5, now);
      case E::HeartbeatUnknownMember:
        return group.heartbeat("nobody", std::nullopt, gen, now);
      case E::SyncFollower:
        return sync_answer(sync(b, "ib"));
      case E::SyncLeader:
        return sync_answer(sync(a, std::nullopt, {{a, {0xA}}, {b, {0xB}}}));
      case E::LeaveFollower:
        return group.leave(b, "ib", now);
      case E::LeaveByInstance:
        return group.leave("", "ib", now);
      case E::LeaveInstanceWithWrongMember:
        return group.leave("someone-else", "ib", now);
      case E::LeaveLeader:
        return group.leave(a, std::nullopt, now);
      case E::Commit:
        return group.validate_commit(b, "ib", gen);
      case E::CommitWithoutGeneration:
        return group.validate_commit("", std::nullopt, -1);
      case E::FollowerSessionExpires:
        now += 6s;  // past B's 5 s session, within A's 20 s
        group.tick(now);
        return kWaits;
      case E::RebalanceTimeoutWithoutFollower:
        // B stays alive (heartbeats) but never rejoins; a static member keeps its place.
        for (int i = 0; i < 16; ++i) {
          now += 2s;
          group.heartbeat(b, "ib", gen, now);
          group.tick(now);
        }
        return kWaits;
      case E::FollowerNeverSyncs:
        sync(a, std::nullopt, {{a, {0xA}}, {b, {0xB}}});
        for (int i = 0; i < 16; ++i) {
          now += 2s;
          group.heartbeat(a, std::nullopt, gen, now);
          group.heartbeat(b, "ib", gen, now);
          group.tick(now);
        }
        return kWaits;
    }
    return kWaits;
  }
};

TEST_P(StateTable, Transition) {
  const Row& row = GetParam();
  setup(row.from);
  if (HasFatalFailure()) return;
  ASSERT_EQ(group.state(), row.from);
  int32_t gen = group.generation();
  auto got = run(row.event);
  if (row.answer)
    EXPECT_EQ(got, row.answer) << "answer " << (got ? error_name(*got) : "none yet") << ", want "
                               << error_name(*row.answer);
  else
    EXPECT_EQ(got, std::nullopt) << "answered " << error_name(*got) << ", want no answer yet";
  EXPECT_EQ(state_name(group.state()), state_name(row.to));
  EXPECT_EQ(group.generation() - gen, row.generation_step);
  EXPECT_EQ(group.members().size(), row.members);
}

std::string row_name(const ::testing::TestParamInfo<Row>& info) {
  return std::string(state_name(info.param.from)) + "_" + event_name(info.param.event);
}

INSTANTIATE_TEST_SUITE_P(Kafka, StateTable, ::testing::ValuesIn(kRows), row_name);

}  // namespace
}  // namespace runnel::group
