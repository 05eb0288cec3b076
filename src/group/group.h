#pragma once
// One consumer group under the classic rebalance protocol: its members, its
// generation and the state machine Empty -> PreparingRebalance ->
// CompletingRebalance -> Stable (and Dead once deleted), with the rules of
// Kafka's classic GroupCoordinator for JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup and offset commits, static membership (KIP-345) included.
// STATE_TABLE.md beside this file lists every transition.
//
// A Group only decides; it does no I/O. Join and sync answers that must wait
// (for other members, for the leader's assignment) are kept as callbacks and
// each is called exactly once, when the group moves on. Time is passed in, so
// tests drive it. Thread-safety: none; a group lives on its coordinator's shard.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error_code.h"

namespace runnel::group {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

enum class GroupState { Empty, PreparingRebalance, CompletingRebalance, Stable, Dead };
std::string_view state_name(GroupState s);

struct Protocol {
  std::string name;
  Bytes metadata;
};

struct JoinRequest {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string protocol_type;
  std::vector<Protocol> protocols;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string client_id;
  std::string client_host;
  bool require_known_member_id = false;   // JoinGroup v4+: MEMBER_ID_REQUIRED first
  bool supports_skip_assignment = false;  // JoinGroup v9+ (KIP-814)
  std::string reason;                     // JoinGroup v8+, for the log
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  Bytes metadata;
};

struct JoinResult {
  ErrorCode error = ErrorCode::NONE;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  bool skip_assignment = false;
  std::string member_id;
  std::vector<JoinMember> members;  // only for the leader

  // A refusal: only the error and the member id the client should keep.
  static JoinResult failed(ErrorCode e, std::string member_id) {
    JoinResult r;
    r.error = e;
    r.member_id = std::move(member_id);
    return r;
  }
};

struct SyncRequest {
  std::string member_id;
  int32_t generation_id = -1;
  std::optional<std::string> group_instance_id;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::map<std::string, Bytes> assignments;  // from the leader
};

struct SyncResult {
  ErrorCode error = ErrorCode::NONE;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  Bytes assignment;

  static SyncResult failed(ErrorCode e) {
    SyncResult r;
    r.error = e;
    return r;
  }
};

struct Member {
  std::string id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<Protocol> protocols;
  Bytes assignment;
  Clock::time_point session_deadline;
  std::function<void(JoinResult)> awaiting_join;
  std::function<void(SyncResult)> awaiting_sync;
};

struct GroupLimits {
  int32_t min_session_timeout_ms = 6000;
  int32_t max_session_timeout_ms = 1800000;
  int32_t initial_rebalance_delay_ms = 3000;
  int32_t max_size = INT32_MAX;  // group.max.size
};

class Group {
 public:
  Group(std::string id, GroupLimits limits) : id_(std::move(id)), limits_(limits) {}

  const std::string& id() const { return id_; }
  GroupState state() const { return state_; }
  int32_t generation() const { return generation_; }
  const std::string& protocol_type() const { return protocol_type_; }
  const std::optional<std::string>& protocol_name() const { return protocol_name_; }
  const std::string& leader() const { return leader_; }
  const std::map<std::string, Member>& members() const { return members_; }
  // The member id a static member's instance id maps to now, if any.
  std::optional<std::string> static_member(const std::string& instance_id) const;
  // The protocol name's metadata for a member (DescribeGroups).
  Bytes member_metadata(const Member& m) const;

  // JoinGroup. `respond` is called exactly once, now or when the rebalance completes.
  void join(const JoinRequest& request, Clock::time_point now, std::function<void(JoinResult)> respond);
  // SyncGroup. `respond` is called exactly once, now or when the leader's assignment arrives.
  void sync(const SyncRequest& request, Clock::time_point now, std::function<void(SyncResult)> respond);
  ErrorCode heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id, int32_t generation,
                      Clock::time_point now);
  // LeaveGroup for one member identity: by member id, or by instance id alone
  // when member_id is empty (v3+ batch leave, as kafka-consumer-groups does).
  ErrorCode leave(const std::string& member_id, const std::optional<std::string>& instance_id, Clock::time_point now);
  // Whether a commit from this member/generation may be accepted now.
  ErrorCode validate_commit(const std::string& member_id, const std::optional<std::string>& instance_id,
                            int32_t generation) const;

  // Expires sessions, pending members and pending syncs, and completes a
  // pending rebalance whose time is up. Returns true when the group changed.
  bool tick(Clock::time_point now);

  // True after a rebalance completed, a static member was replaced or the
  // group emptied: its state should be persisted.
  bool take_dirty() { return std::exchange(dirty_, false); }
  void mark_dead() { state_ = GroupState::Dead; }
  void mark_dirty() { dirty_ = true; }
  // Starts a rebalance (a group converted back from a consumer group): the
  // members learn it from their next Heartbeat and rejoin.
  void rebalance(Clock::time_point now, const std::string& reason) { maybe_prepare_rebalance(now, reason); }
  // A group loaded with more members than group.max.size allows (the limit
  // was lowered) rebalances, as Kafka's does: its members get a chance to
  // commit, and only the first max_size to rejoin stay. True when it did.
  bool rebalance_if_over_capacity(Clock::time_point now);
  // This broker stopped coordinating the group (its __consumer_offsets
  // partition is led elsewhere now): every member waiting in JoinGroup or
  // SyncGroup is answered `error` (NOT_COORDINATOR, so that it finds the new
  // coordinator) and the group is Dead here.
  void unload(ErrorCode error);
  // Restores persisted state, as Kafka loads a group: with members it is
  // Stable and each member's session starts again at `now`; without, Empty.
  void restore(int32_t generation, std::string protocol_type, std::optional<std::string> protocol_name,
               std::string leader, std::vector<Member> members, Clock::time_point now);

 private:
  // Kafka's acceptJoiningMember: whether group.max.size lets this member id in.
  bool accepts_joining_member(const std::string& member_id) const;
  void join_unknown_member(const JoinRequest& req, Clock::time_point now, std::function<void(JoinResult)> respond);
  void join_known_member(const JoinRequest& req, Clock::time_point now, std::function<void(JoinResult)> respond);
  void replace_static_member(const std::string& old_id, const JoinRequest& req, Clock::time_point now,
                             std::function<void(JoinResult)> respond);
  Member make_member(const std::string& id, const JoinRequest& req) const;
  void update_member(Member& m, const JoinRequest& req, std::function<void(JoinResult)> respond);
  void add_member_and_rebalance(Member member, Clock::time_point now);
  void remove_member_and_update(const std::string& member_id, Clock::time_point now, const std::string& reason);
  // Kafka's validateCurrentMember: FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID or nothing.
  std::optional<ErrorCode> validate_member(const std::string& member_id,
                                           const std::optional<std::string>& instance_id) const;
  void maybe_prepare_rebalance(Clock::time_point now, const std::string& reason);
  void prepare_rebalance(Clock::time_point now, const std::string& reason);
  bool all_members_joined() const;
  void maybe_complete_join(Clock::time_point now);
  void complete_join(Clock::time_point now);
  void expire_pending_syncs(Clock::time_point now);
  int32_t rebalance_timeout_ms() const;
  std::optional<std::string> select_protocol() const;
  bool supports_protocols(const std::string& type, const std::vector<Protocol>& protocols) const;
  std::string new_member_id(const JoinRequest& req) const;
  JoinResult join_result_for(const Member& m) const;
  std::string describe_members() const;
  void reset_session(Member& m, Clock::time_point now);

  std::string id_;
  GroupLimits limits_;
  GroupState state_ = GroupState::Empty;
  int32_t generation_ = 0;
  std::string protocol_type_;
  std::optional<std::string> protocol_name_;
  std::string leader_;
  std::map<std::string, Member> members_;
  std::map<std::string, std::string> static_members_;         // group.instance.id -> current member id
  std::map<std::string, Clock::time_point> pending_members_;  // issued ids awaiting their second join
  std::set<std::string> pending_syncs_;  // members of this generation that have not sent SyncGroup yet
  Clock::time_point sync_deadline_{};
  Clock::time_point rebalance_deadline_{};
  Clock::time_point join_not_before_{};
  bool dirty_ = false;
};

}  // namespace runnel::group
