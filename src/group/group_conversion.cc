#include "group/group_conversion.h"

#include <algorithm>
#include <map>
#include <set>

#include "protocol/consumer_protocol.h"
#include "protocol/reader.h"

namespace runnel::group {

std::unique_ptr<ConsumerGroup> consumer_group_from_classic(const Group& classic, const ConsumerGroupConfig& config,
                                                           const TopicCatalog& topics, ConsumerClock::time_point now) {
  if (classic.protocol_type() != "consumer" || !topics.find) return nullptr;
  auto group = std::make_unique<ConsumerGroup>(classic.id(), config);
  group->set_epochs(classic.generation(), classic.generation());
  try {
    for (const auto& [id, m] : classic.members()) {
      auto subscription = protocol::decode_consumer_subscription_full(classic.member_metadata(m));
      auto named = protocol::decode_consumer_assignment(m.assignment);
      TopicAssignment assigned;
      for (const auto& [name, parts] : named)
        if (auto t = topics.find(name); t && !parts.empty()) assigned[t->id].insert(parts.begin(), parts.end());
      ConsumerMember member;
      member.id = id;
      member.instance_id = m.group_instance_id;
      member.rack_id = subscription.rack_id;
      member.client_id = m.client_id;
      member.client_host = m.client_host;
      member.rebalance_timeout_ms = m.rebalance_timeout_ms;
      std::set<std::string> unique(subscription.topics.begin(), subscription.topics.end());
      member.subscribed_topics.assign(unique.begin(), unique.end());
      member.epoch = classic.generation();
      member.previous_epoch = classic.generation();
      member.state = MemberState::Stable;
      member.assigned = assigned;
      auto& info = member.classic.emplace();
      info.session_timeout_ms = m.session_timeout_ms;
      for (const auto& p : m.protocols) info.protocols.push_back({p.name, p.metadata});
      if (info.protocols.empty()) return nullptr;
      group->adopt(std::move(member), std::move(assigned), now);
    }
  } catch (const protocol::DecodeError&) {
    return nullptr;
  }
  return group;
}

std::optional<ClassicGroupImage> classic_group_from_consumer(const ConsumerGroup& group, const TopicCatalog& topics) {
  if (!group.only_classic_members()) return std::nullopt;
  ClassicGroupImage image;
  // Kafka converts before it fences the leaving member, at the group epoch
  // the members are reconciled to: the highest member epoch here.
  for (const auto& [_, m] : group.members()) image.generation = std::max(image.generation, m.epoch);
  // The protocol every member supports, in the first member's order of
  // preference (Kafka's selectProtocol by votes, which agree for a group
  // of one client kind).
  std::map<std::string, size_t> support;
  for (const auto& [_, m] : group.members()) {
    std::set<std::string> names;
    for (const auto& p : m.classic->protocols) names.insert(p.name);
    for (const auto& n : names) ++support[n];
  }
  const auto& first = group.members().begin()->second;
  for (const auto& p : first.classic->protocols)
    if (support[p.name] == group.members().size()) {
      image.protocol = p.name;
      break;
    }
  if (!image.protocol) return std::nullopt;
  std::map<TopicUuid, std::string> names;
  if (topics.names && topics.find)
    for (const auto& name : topics.names())
      if (auto t = topics.find(name)) names[t->id] = name;
  for (const auto& [id, m] : group.members()) {
    Member out;
    out.id = id;
    out.group_instance_id = m.instance_id;
    out.client_id = m.client_id;
    out.client_host = m.client_host;
    out.session_timeout_ms = m.classic->session_timeout_ms;
    out.rebalance_timeout_ms = m.rebalance_timeout_ms > 0 ? m.rebalance_timeout_ms : m.classic->session_timeout_ms;
    out.protocol_type = "consumer";
    for (const auto& p : m.classic->protocols) out.protocols.push_back(Protocol{p.name, p.metadata});
    std::map<std::string, std::vector<int32_t>> assignment;
    for (const auto& [topic, parts] : group.target(id)) {
      auto n = names.find(topic);
      if (n != names.end() && !parts.empty()) assignment[n->second].assign(parts.begin(), parts.end());
    }
    out.assignment = protocol::encode_consumer_assignment(assignment);
    image.members.push_back(std::move(out));
  }
  return image;
}

}  // namespace runnel::group
