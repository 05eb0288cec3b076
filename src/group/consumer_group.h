#pragma once
// One consumer group under the next-generation protocol (KIP-848, Kafka's
// ConsumerGroup and the consumer-group half of its GroupMetadataManager):
// members join, heartbeat and leave with ConsumerGroupHeartbeat; the group
// epoch moves when membership, subscriptions or the subscribed topics'
// metadata change; a server-side assignor (`uniform` or `range`) computes the
// target assignment for the new epoch; each member then reconciles towards
// its target one heartbeat at a time (reconciliation.h), so a partition is
// given to a member only once its previous owner has revoked it.
//
// A ConsumerGroup only decides; it does no I/O. Time and the topic catalogue
// are passed in, so tests drive it. take_dirty() tells the coordinator when to
// persist it (snapshot()). Thread-safety: none; it lives on its coordinator's
// shard.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error_code.h"
#include "config/group_config.h"
#include "group/assignors.h"
#include "group/group.h"
#include "group/offsets_format.h"
#include "group/reconciliation.h"

namespace runnel::group {

using ConsumerClock = std::chrono::steady_clock;

// Kafka's ConsumerGroupState names.
enum class ConsumerGroupState { Empty, Assigning, Reconciling, Stable, Dead };
std::string_view consumer_state_name(ConsumerGroupState s);

// group.consumer.migration.policy (KIP-848): whether a classic group with
// members converts to a consumer group when a ConsumerGroupHeartbeat member
// joins (upgrade), and a consumer group whose last consumer-protocol member
// leaves converts back to a classic group (downgrade).
enum class MigrationPolicy { Disabled, Upgrade, Downgrade, Bidirectional };
// Kafka's names, any case; nullopt for another.
std::optional<MigrationPolicy> parse_migration_policy(std::string_view name);
std::string_view migration_policy_name(MigrationPolicy p);
inline bool upgrade_enabled(MigrationPolicy p) {
  return p == MigrationPolicy::Upgrade || p == MigrationPolicy::Bidirectional;
}
inline bool downgrade_enabled(MigrationPolicy p) {
  return p == MigrationPolicy::Downgrade || p == MigrationPolicy::Bidirectional;
}

// group.consumer.* settings.
struct ConsumerGroupConfig {
  MigrationPolicy migration_policy = MigrationPolicy::Bidirectional;  // Kafka 4's default
  int32_t heartbeat_interval_ms = 5000;                               // group.consumer.heartbeat.interval.ms
  int32_t session_timeout_ms = 45000;                                 // group.consumer.session.timeout.ms
  int32_t max_size = INT32_MAX;                                       // group.consumer.max.size
  // group.consumer.assignors: the first is the default.
  std::vector<std::string> assignors = {std::string(kUniformAssignor), std::string(kRangeAssignor)};
  // A group's own timings (its GROUP configs, group/group_timeouts.h).
  void set_timeouts(const GroupTimeouts& t) {
    session_timeout_ms = t.session_timeout_ms;
    heartbeat_interval_ms = t.heartbeat_interval_ms;
  }
};

// What the coordinator needs of the topic catalogue: a topic by name
// (nullopt when it does not exist) and, for regex subscriptions, every name.
struct TopicCatalog {
  std::function<std::optional<SubscribedTopic>(const std::string&)> find;
  std::function<std::vector<std::string>()> names;
};

// A ConsumerGroupHeartbeat request, decoded. Optional fields are null when
// they did not change since the member's last heartbeat.
struct ConsumerHeartbeat {
  std::string member_id;
  int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  std::optional<TopicAssignment> owned;
  std::string client_id;
  std::string client_host;
};

struct ConsumerHeartbeatResult {
  ErrorCode error = ErrorCode::NONE;
  std::optional<std::string> message;
  std::string member_id;
  int32_t member_epoch = 0;
  int32_t heartbeat_interval_ms = 0;
  std::optional<TopicAssignment> assignment;  // set when the member must (re)learn it
};

// Kafka's Uuid.randomUuid().toString(): a new member id.
std::string new_consumer_member_id();

// Kafka's request validation (throwIfConsumerGroupHeartbeatRequestIsInvalid),
// before any group is looked at: INVALID_REQUEST, UNSUPPORTED_ASSIGNOR or
// INVALID_REGULAR_EXPRESSION with Kafka's message; NONE when valid.
std::pair<ErrorCode, std::string> validate_heartbeat(const ConsumerHeartbeat& request, int16_t api_version,
                                                     const std::vector<std::string>& assignors);

class ConsumerGroup {
 public:
  ConsumerGroup(std::string id, ConsumerGroupConfig config) : id_(std::move(id)), config_(std::move(config)) {}

  const std::string& id() const { return id_; }
  ConsumerGroupState state() const;
  int32_t group_epoch() const { return group_epoch_; }
  int32_t assignment_epoch() const { return assignment_epoch_; }
  const std::map<std::string, ConsumerMember>& members() const { return members_; }
  const TopicAssignment& target(const std::string& member_id) const;
  // The assignor the next target assignment is computed with.
  std::string assignor() const;
  bool empty() const { return members_.empty(); }
  // Kafka's throwIfConsumerGroupIsFull: GROUP_MAX_SIZE_REACHED, with Kafka's
  // message, when the group has group.consumer.max.size members and
  // `member_id` (empty: a new member) is not one of them; NONE otherwise.
  std::pair<ErrorCode, std::string> check_capacity(const std::string& member_id) const;

  // A heartbeat of a member (joining, staying or leaving) that passed
  // validate_heartbeat().
  ConsumerHeartbeatResult heartbeat(const ConsumerHeartbeat& request, const TopicCatalog& topics,
                                    ConsumerClock::time_point now);

  // Classic-protocol members of a mixed group (classic_members.cc), as
  // Kafka's classicGroup*ToConsumerGroup: a member that speaks JoinGroup,
  // SyncGroup, Heartbeat and LeaveGroup is a member of the consumer group
  // like any other; its subscription comes from its JoinGroup metadata, its
  // assignment goes out in SyncGroup, and its Heartbeat answers
  // REBALANCE_IN_PROGRESS when it must rejoin to move to its target.
  JoinResult classic_join(const JoinRequest& request, const TopicCatalog& topics, ConsumerClock::time_point now);
  SyncResult classic_sync(const SyncRequest& request, const TopicCatalog& topics, ConsumerClock::time_point now);
  ErrorCode classic_heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id,
                              int32_t generation, ConsumerClock::time_point now);
  ErrorCode classic_leave(const std::string& member_id, const std::optional<std::string>& instance_id);
  // Whether the group has members and all of them speak the classic
  // protocol (what a downgrade needs).
  bool only_classic_members() const;
  // Whether `instance_id` names a static member that speaks the consumer
  // protocol: a classic JoinGroup with that instance id replaces it, and if
  // it was the last one the group downgrades (Kafka's
  // validateOnlineDowngradeWithReplacedMemberId).
  bool static_member_uses_consumer_protocol(const std::string& instance_id) const;
  // Adds a member as it is, with its target (a classic group converting).
  void adopt(ConsumerMember member, TopicAssignment target, ConsumerClock::time_point now);
  void set_epochs(int32_t group_epoch, int32_t assignment_epoch);
  // The session timeout and heartbeat interval its consumer-protocol members
  // get from now on (the group's configs, group/group_timeouts.h).
  void set_timeouts(const GroupTimeouts& t) { config_.set_timeouts(t); }

  // Fences members whose session expired, or that did not revoke partitions
  // within their rebalance timeout. Returns true when the group changed.
  bool tick(ConsumerClock::time_point now);

  // OffsetCommit (v9+ carries the member epoch) and OffsetFetch (v9+):
  // UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, UNSUPPORTED_VERSION (a member
  // committing below OffsetCommit v9) or NONE, as Kafka's ConsumerGroup
  // validateOffsetCommit / validateOffsetFetch. An epoch below 0 comes from
  // outside the group: a commit is then allowed only while the group is
  // empty, a fetch without a member id always.
  ErrorCode validate_commit(const std::string& member_id, int32_t member_epoch, int16_t api_version,
                            bool transactional) const;
  ErrorCode validate_fetch(const std::optional<std::string>& member_id, int32_t member_epoch) const;

  // The subscribed topic names of every member (offsets retention, OffsetDelete).
  std::vector<std::string> subscribed_topic_names() const;

  bool take_dirty() { return std::exchange(dirty_, false); }
  void mark_dead() { dead_ = true; }

  ConsumerGroupValue snapshot() const;
  // Restores persisted state, as Kafka loads a group: every member's session
  // starts again at `now`, so members that are gone are fenced in time.
  void restore(const ConsumerGroupValue& value, ConsumerClock::time_point now);

 private:
  ConsumerHeartbeatResult leave(const ConsumerHeartbeat& request);
  // Steps 2-4 of a join or heartbeat: a new group epoch when `bump` or the
  // subscribed topics changed, a new target for it, and the member one
  // reconciliation step closer to its target.
  void update_and_reconcile(ConsumerMember updated, bool bump, const TopicCatalog& topics,
                            const std::optional<TopicAssignment>& owned, ConsumerClock::time_point now);
  // The member a classic request names: by instance id when given, else by
  // member id. UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID when there is none.
  std::pair<ErrorCode, ConsumerMember*> classic_member(const std::string& member_id,
                                                       const std::optional<std::string>& instance_id);
  // Whether a partition of the member's target is still held by another.
  bool waiting_on_unreleased(const ConsumerMember& m) const;
  ConsumerClock::duration session_timeout(const ConsumerMember& m) const;
  // Removes a member, frees its partitions and bumps the group epoch.
  void fence(const std::string& member_id, std::string_view reason);
  // Replaces (or adds) a member, keeping the partition epochs in step.
  void put_member(ConsumerMember member);
  // A static member back under a new member id takes over the old id's
  // assignment and target, without a new group epoch; returns it as it now
  // stands (old_id by value: callers pass a reference into the maps it edits).
  // `restart_epoch`: its member epoch starts again from 0 (a
  // consumer-protocol member rejoins with epoch 0; a classic one keeps it).
  ConsumerMember rename_static_member(std::string old_id, const std::string& new_id, bool restart_epoch);
  void remove_partition_epochs(const ConsumerMember& m);
  void add_partition_epochs(const ConsumerMember& m);
  int32_t partition_epoch(const TopicUuid& topic, int32_t partition) const;
  // The subscribed topics that exist now (name -> id and partition count),
  // with `changed` in place of its member when given.
  std::map<std::string, SubscribedTopic> subscription_metadata(const TopicCatalog& topics,
                                                               const ConsumerMember* changed) const;
  void compute_target(const std::map<std::string, SubscribedTopic>& metadata);

  std::string id_;
  ConsumerGroupConfig config_;
  int32_t group_epoch_ = 0;
  int32_t assignment_epoch_ = 0;
  std::map<std::string, ConsumerMember> members_;
  std::map<std::string, std::string> static_members_;  // instance id -> member id
  std::map<std::string, TopicAssignment> target_;      // member id -> target assignment
  std::map<std::pair<TopicUuid, int32_t>, int32_t> partition_epochs_;
  std::map<std::string, SubscribedTopic> metadata_;  // what the current group epoch was computed from
  bool metadata_known_ = false;                      // false after a restore: metadata_ is not persisted
  bool dirty_ = false;
  bool dead_ = false;
};

}  // namespace runnel::group
