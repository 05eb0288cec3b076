// Classic-protocol members of a consumer group (KIP-848 mixed groups): the
// ConsumerGroup methods that answer JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup, as Kafka's GroupMetadataManager.classicGroup*ToConsumerGroup.
// Thread-safety: none; the group lives on its coordinator's shard.
#include <spdlog/spdlog.h>

#include <set>

#include "group/consumer_group.h"
#include "protocol/consumer_protocol.h"
#include "protocol/reader.h"

namespace runnel::group {
namespace {

constexpr std::string_view kConsumerProtocolType = "consumer";

// Partitions by topic name -> by topic id, for the topics the catalogue knows.
TopicAssignment by_id(const std::map<std::string, std::vector<int32_t>>& named, const TopicCatalog& topics) {
  TopicAssignment out;
  for (const auto& [name, parts] : named) {
    if (parts.empty() || !topics.find) continue;
    if (auto t = topics.find(name)) out[t->id].insert(parts.begin(), parts.end());
  }
  return out;
}

}  // namespace

std::pair<ErrorCode, ConsumerMember*> ConsumerGroup::classic_member(const std::string& member_id,
                                                                    const std::optional<std::string>& instance_id) {
  if (instance_id) {
    auto s = static_members_.find(*instance_id);
    if (s == static_members_.end()) return {ErrorCode::UNKNOWN_MEMBER_ID, nullptr};
    if (s->second != member_id) return {ErrorCode::FENCED_INSTANCE_ID, nullptr};
  }
  auto it = members_.find(member_id);
  if (it == members_.end()) return {ErrorCode::UNKNOWN_MEMBER_ID, nullptr};
  // Kafka's throwIfMemberDoesNotUseClassicProtocol.
  if (!it->second.classic) return {ErrorCode::UNKNOWN_MEMBER_ID, nullptr};
  return {ErrorCode::NONE, &it->second};
}

bool ConsumerGroup::waiting_on_unreleased(const ConsumerMember& m) const {
  if (m.state != MemberState::UnreleasedPartitions) return false;
  for (const auto& [topic, parts] : target(m.id)) {
    auto have = m.assigned.find(topic);
    for (int32_t p : parts) {
      bool assigned = have != m.assigned.end() && have->second.count(p);
      if (!assigned && partition_epoch(topic, p) != -1) return true;
    }
  }
  return false;
}

JoinResult ConsumerGroup::classic_join(const JoinRequest& req, const TopicCatalog& topics,
                                       ConsumerClock::time_point now) {
  const bool unknown = req.member_id.empty();
  const std::string member_id = unknown ? new_consumer_member_id() : req.member_id;
  // group.consumer.max.size, before the protocol checks, as Kafka's
  // classicGroupJoinToConsumerGroup.
  if (check_capacity(unknown ? std::string() : member_id).first != ErrorCode::NONE) {
    spdlog::info("consumer group {}: classic member {} refused: the group has reached its maximum size of {}", id_,
                 unknown ? "(new)" : member_id, config_.max_size);
    return JoinResult::failed(ErrorCode::GROUP_MAX_SIZE_REACHED, "");
  }

  // Kafka's supportsClassicProtocols: the consumer protocol type, and a
  // protocol every classic member already here supports.
  bool supported = req.protocol_type == kConsumerProtocolType && !req.protocols.empty();
  if (supported) {
    std::map<std::string, size_t> support;
    size_t classic_members = 0;
    for (const auto& [id, m] : members_) {
      if (!m.classic || id == member_id) continue;
      ++classic_members;
      std::set<std::string> names;
      for (const auto& p : m.classic->protocols) names.insert(p.name);
      for (const auto& n : names) ++support[n];
    }
    if (classic_members > 0) {
      supported = false;
      for (const auto& p : req.protocols) supported = supported || support[p.name] == classic_members;
    }
  }
  if (!supported) return JoinResult::failed(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id);

  if (unknown && req.require_known_member_id && !req.group_instance_id)
    return JoinResult::failed(ErrorCode::MEMBER_ID_REQUIRED, member_id);

  protocol::ConsumerSubscription subscription;
  try {
    subscription = protocol::decode_consumer_subscription_full(req.protocols.front().metadata);
  } catch (const protocol::DecodeError&) {
    return JoinResult::failed(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id);
  }

  // The member: new, known, or a static member taking over its instance id.
  ConsumerMember before;
  bool is_new = false;
  if (req.group_instance_id) {
    auto s = static_members_.find(*req.group_instance_id);
    if (unknown) {
      if (s == static_members_.end()) {
        before.id = member_id;
        is_new = true;
      } else {
        // Replaces the old static member: its assignment and target carry
        // over to the new member id, without a new group epoch.
        before = rename_static_member(s->second, member_id, /*restart_epoch=*/false);
        spdlog::info("consumer group {}: static member {} is back as {} (classic protocol)", id_,
                     *req.group_instance_id, member_id);
      }
    } else {
      if (s == static_members_.end()) return JoinResult::failed(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id);
      if (s->second != member_id) return JoinResult::failed(ErrorCode::FENCED_INSTANCE_ID, req.member_id);
      before = members_.at(member_id);
    }
  } else if (auto it = members_.find(member_id); it != members_.end()) {
    if (!it->second.classic) return JoinResult::failed(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id);
    before = it->second;
  } else {
    before.id = member_id;
    is_new = true;
  }
  if (is_new) spdlog::info("consumer group {}: member {} joins with the classic protocol", id_, member_id);

  ConsumerMember updated = before;
  if (req.group_instance_id) updated.instance_id = req.group_instance_id;
  if (subscription.rack_id) updated.rack_id = subscription.rack_id;
  if (req.rebalance_timeout_ms > 0) updated.rebalance_timeout_ms = req.rebalance_timeout_ms;
  std::set<std::string> unique(subscription.topics.begin(), subscription.topics.end());
  updated.subscribed_topics.assign(unique.begin(), unique.end());
  updated.subscribed_regex.reset();
  updated.client_id = req.client_id;
  updated.client_host = req.client_host;
  auto& classic = updated.classic.emplace();
  classic.session_timeout_ms = req.session_timeout_ms;
  for (const auto& p : req.protocols) classic.protocols.push_back({p.name, p.metadata});
  bool bump = is_new || updated.subscribed_topics != before.subscribed_topics ||
              updated.subscribed_regex != before.subscribed_regex;
  if (is_new || !updated.same_state(before)) dirty_ = true;
  // An eager client gave up everything before it rejoined; a cooperative one
  // reports what it still owns.
  std::optional<TopicAssignment> owned = by_id(subscription.owned, topics);
  update_and_reconcile(std::move(updated), bump, topics, owned, now);

  // Kafka's sync timeout: the member must send SyncGroup within its
  // rebalance timeout (a classic member's rebalance_deadline is its join or
  // sync timeout; tick() fences it when it passes).
  ConsumerMember& after = members_.at(member_id);
  int32_t timeout = after.rebalance_timeout_ms > 0 ? after.rebalance_timeout_ms : after.classic->session_timeout_ms;
  after.rebalance_deadline = now + std::chrono::milliseconds(timeout);
  JoinResult result;
  result.member_id = member_id;
  result.generation_id = after.epoch;
  result.protocol_type = std::string(kConsumerProtocolType);
  result.protocol_name = after.classic->protocols.front().name;
  // No leader: the coordinator assigns, every classic member is a follower.
  return result;
}

SyncResult ConsumerGroup::classic_sync(const SyncRequest& req, const TopicCatalog& topics,
                                       ConsumerClock::time_point now) {
  auto [error, member] = classic_member(req.member_id, req.group_instance_id);
  if (error != ErrorCode::NONE) return SyncResult::failed(error);
  if (req.generation_id != member->epoch) return SyncResult::failed(ErrorCode::ILLEGAL_GENERATION);
  if ((req.protocol_type && *req.protocol_type != kConsumerProtocolType) ||
      (req.protocol_name && *req.protocol_name != member->classic->protocols.front().name))
    return SyncResult::failed(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  // Kafka's throwIfRebalanceInProgress: a member behind the group epoch
  // rejoins first, unless it is revoking (its next join finishes that).
  if (group_epoch_ > member->epoch && member->state != MemberState::UnrevokedPartitions)
    return SyncResult::failed(ErrorCode::REBALANCE_IN_PROGRESS);
  member->session_deadline = now + session_timeout(*member);
  member->rebalance_deadline = {};  // synced: no join or sync timeout running

  // The assigned partitions by topic name: the group's metadata first, the
  // catalogue for a topic it does not hold (after a restart).
  std::map<TopicUuid, std::string> names;
  for (const auto& [name, t] : metadata_) names[t.id] = name;
  bool missing = false;
  for (const auto& [topic, _] : member->assigned) missing = missing || !names.count(topic);
  if (missing && topics.names && topics.find)
    for (const auto& name : topics.names())
      if (auto t = topics.find(name)) names[t->id] = name;
  std::map<std::string, std::vector<int32_t>> assignment;
  for (const auto& [topic, parts] : member->assigned) {
    auto n = names.find(topic);
    if (n != names.end() && !parts.empty()) assignment[n->second].assign(parts.begin(), parts.end());
  }
  SyncResult result;
  result.protocol_type = req.protocol_type;
  result.protocol_name = req.protocol_name;
  result.assignment = protocol::encode_consumer_assignment(assignment);
  return result;
}

ErrorCode ConsumerGroup::classic_heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id,
                                           int32_t generation, ConsumerClock::time_point now) {
  auto [error, member] = classic_member(member_id, instance_id);
  if (error != ErrorCode::NONE) return error;
  if (generation != member->epoch) return ErrorCode::ILLEGAL_GENERATION;
  member->session_deadline = now + session_timeout(*member);
  // The member rejoins when the group epoch moved on, when it must revoke
  // partitions, or when the partitions it waits for are free.
  if (member->epoch < group_epoch_ || member->state == MemberState::UnrevokedPartitions ||
      (member->state == MemberState::UnreleasedPartitions && !waiting_on_unreleased(*member))) {
    // Kafka's join timeout, when none runs yet: it must rejoin in time.
    if (member->rebalance_deadline == ConsumerClock::time_point{}) {
      int32_t timeout =
          member->rebalance_timeout_ms > 0 ? member->rebalance_timeout_ms : member->classic->session_timeout_ms;
      member->rebalance_deadline = now + std::chrono::milliseconds(timeout);
    }
    return ErrorCode::REBALANCE_IN_PROGRESS;
  }
  return ErrorCode::NONE;
}

ErrorCode ConsumerGroup::classic_leave(const std::string& member_id, const std::optional<std::string>& instance_id) {
  std::string id = member_id;
  if (instance_id) {
    auto s = static_members_.find(*instance_id);
    if (s == static_members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
    // An administrative removal names the instance id alone.
    if (!member_id.empty() && s->second != member_id) return ErrorCode::FENCED_INSTANCE_ID;
    id = s->second;
  }
  auto it = members_.find(id);
  if (it == members_.end() || !it->second.classic) return ErrorCode::UNKNOWN_MEMBER_ID;
  fence(id, "left the group (LeaveGroup)");
  return ErrorCode::NONE;
}

}  // namespace runnel::group
