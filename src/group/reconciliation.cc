#include "group/reconciliation.h"

#include <set>

namespace runnel::group {

std::string_view member_state_name(MemberState s) {
  switch (s) {
    case MemberState::Stable:
      return "stable";
    case MemberState::UnrevokedPartitions:
      return "unrevoked_partitions";
    case MemberState::UnreleasedPartitions:
      return "unreleased_partitions";
  }
  return "unknown";
}

bool ConsumerMember::same_state(const ConsumerMember& o) const {
  return id == o.id && instance_id == o.instance_id && rack_id == o.rack_id && client_id == o.client_id &&
         client_host == o.client_host && rebalance_timeout_ms == o.rebalance_timeout_ms &&
         subscribed_topics == o.subscribed_topics && subscribed_regex == o.subscribed_regex &&
         server_assignor == o.server_assignor && epoch == o.epoch && previous_epoch == o.previous_epoch &&
         state == o.state && assigned == o.assigned && pending_revocation == o.pending_revocation;
}

bool owns_any(const std::optional<TopicAssignment>& owned, const TopicAssignment& partitions) {
  if (!owned) return true;
  for (const auto& [topic, parts] : *owned) {
    auto it = partitions.find(topic);
    if (it == partitions.end()) continue;
    for (int32_t p : parts)
      if (it->second.count(p)) return true;
  }
  return false;
}

bool is_subset(const std::optional<TopicAssignment>& owned, const TopicAssignment& assigned) {
  if (!owned) return false;
  for (const auto& [topic, parts] : *owned) {
    if (parts.empty()) continue;
    auto it = assigned.find(topic);
    if (it == assigned.end()) return false;
    for (int32_t p : parts)
      if (!it->second.count(p)) return false;
  }
  return true;
}

namespace {

ConsumerMember next_assignment(const ConsumerMember& member, int32_t epoch, int32_t target_epoch,
                               const TopicAssignment& target, const PartitionEpochFn& partition_epoch,
                               const std::optional<TopicAssignment>& owned) {
  bool unreleased = false;
  TopicAssignment assigned, revoking, adding;
  std::set<TopicUuid> topics;
  for (const auto& [t, _] : target) topics.insert(t);
  for (const auto& [t, _] : member.assigned) topics.insert(t);
  static const std::set<int32_t> kNone;
  for (const auto& topic : topics) {
    auto ti = target.find(topic);
    const auto& want = ti == target.end() ? kNone : ti->second;
    auto ci = member.assigned.find(topic);
    const auto& have = ci == member.assigned.end() ? kNone : ci->second;
    std::set<int32_t> keep, revoke, add;
    for (int32_t p : have) (want.count(p) ? keep : revoke).insert(p);
    for (int32_t p : want) {
      if (keep.count(p)) continue;
      // Still held by another member: it must release it first. (Held by
      // this member, pending revocation, it is simply kept.)
      auto pi = member.pending_revocation.find(topic);
      bool own = pi != member.pending_revocation.end() && pi->second.count(p);
      if (!own && partition_epoch(topic, p) != -1) {
        unreleased = true;
        continue;
      }
      add.insert(p);
    }
    if (!keep.empty()) assigned[topic] = std::move(keep);
    if (!revoke.empty()) revoking[topic] = std::move(revoke);
    if (!add.empty()) adding[topic] = std::move(add);
  }
  ConsumerMember out = member;
  auto set_epoch = [&out](int32_t e) {
    out.previous_epoch = out.epoch;
    out.epoch = e;
  };
  if (!revoking.empty() && owns_any(owned, revoking)) {
    // The member keeps its epoch until it has let go of these.
    out.state = MemberState::UnrevokedPartitions;
    set_epoch(epoch);
    out.assigned = std::move(assigned);
    out.pending_revocation = std::move(revoking);
    return out;
  }
  for (auto& [topic, parts] : adding) assigned[topic].insert(parts.begin(), parts.end());
  out.state = unreleased ? MemberState::UnreleasedPartitions : MemberState::Stable;
  set_epoch(target_epoch);
  out.assigned = std::move(assigned);
  out.pending_revocation.clear();
  return out;
}

}  // namespace

ConsumerMember reconcile(const ConsumerMember& member, int32_t target_epoch, const TopicAssignment& target,
                         const PartitionEpochFn& partition_epoch, const std::optional<TopicAssignment>& owned) {
  switch (member.state) {
    case MemberState::Stable:
      if (member.epoch == target_epoch) return member;
      return next_assignment(member, member.epoch, target_epoch, target, partition_epoch, owned);
    case MemberState::UnrevokedPartitions:
      if (owns_any(owned, member.pending_revocation)) return member;
      return next_assignment(member, member.epoch + 1, target_epoch, target, partition_epoch, owned);
    case MemberState::UnreleasedPartitions:
      return next_assignment(member, member.epoch, target_epoch, target, partition_epoch, owned);
  }
  return member;
}

}  // namespace runnel::group
