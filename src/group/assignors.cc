#include "group/assignors.h"

#include <algorithm>
#include <utility>

namespace runnel::group {
namespace {

using Partition = std::pair<TopicUuid, int32_t>;

struct Slot {
  const AssignorMember* member;
  TopicAssignment assigned;
  size_t count = 0;
};

bool subscribes(const AssignorMember& m, const std::string& topic) { return m.topics.count(topic) > 0; }

}  // namespace

bool is_known_assignor(std::string_view name) { return name == kUniformAssignor || name == kRangeAssignor; }

size_t partition_count(const TopicAssignment& a) {
  size_t n = 0;
  for (const auto& [_, parts] : a) n += parts.size();
  return n;
}

std::map<std::string, TopicAssignment> assign(std::string_view assignor, const std::vector<AssignorMember>& members,
                                              const std::map<std::string, SubscribedTopic>& topics) {
  if (assignor == kRangeAssignor) return assign_range(members, topics);
  return assign_uniform(members, topics);
}

std::map<std::string, TopicAssignment> assign_uniform(const std::vector<AssignorMember>& members,
                                                      const std::map<std::string, SubscribedTopic>& topics) {
  std::map<std::string, TopicAssignment> out;
  if (members.empty()) return out;
  // Member id order: the same input gives the same answer on every broker.
  std::vector<Slot> slots;
  for (const auto& m : members) slots.push_back({&m, {}, 0});
  std::sort(slots.begin(), slots.end(),
            [](const Slot& a, const Slot& b) { return a.member->member_id < b.member->member_id; });

  // Every partition of a topic somebody subscribes to, in topic name order.
  std::vector<Partition> all;
  std::map<TopicUuid, std::string> name_of;
  for (const auto& [name, t] : topics) {
    bool wanted = std::any_of(members.begin(), members.end(), [&](const auto& m) { return subscribes(m, name); });
    if (!wanted) continue;
    name_of[t.id] = name;
    for (int32_t p = 0; p < t.partitions; ++p) all.emplace_back(t.id, p);
  }
  const size_t total = all.size();
  const size_t floor_quota = total / slots.size();
  size_t ceil_slots = total % slots.size();  // how many members may hold one more
  std::set<Partition> taken;
  auto give = [&](Slot& s, const Partition& p) {
    s.assigned[p.first].insert(p.second);
    ++s.count;
    taken.insert(p);
  };
  auto still_valid = [&](const Slot& s, const Partition& p) {
    auto it = name_of.find(p.first);
    return it != name_of.end() && subscribes(*s.member, it->second) && p.second < topics.at(it->second).partitions;
  };

  // Stickiness: a member keeps its previous partitions up to its quota (the
  // floor first; the members that keep one more take the ceiling slots).
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& s : slots) {
      for (const auto& [topic, parts] : s.member->previous) {
        for (int32_t p : parts) {
          Partition part{topic, p};
          if (taken.count(part) || !still_valid(s, part)) continue;
          if (pass == 0 && s.count >= floor_quota) continue;
          if (pass == 1) {
            if (s.count != floor_quota || ceil_slots == 0) continue;
            --ceil_slots;
          }
          give(s, part);
        }
      }
    }
  }
  // The rest, each to the subscribed member holding fewest.
  for (const auto& part : all) {
    if (taken.count(part)) continue;
    Slot* best = nullptr;
    for (auto& s : slots)
      if (still_valid(s, part) && (!best || s.count < best->count)) best = &s;
    if (best) give(*best, part);
  }
  // Heterogeneous subscriptions can leave a member two or more behind one
  // whose partitions it could take: move them one at a time.
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& from : slots) {
      for (auto& to : slots) {
        if (from.count < to.count + 2) continue;
        for (auto& [topic, parts] : from.assigned) {
          if (parts.empty() || !still_valid(to, {topic, *parts.begin()})) continue;
          int32_t p = *parts.rbegin();
          parts.erase(p);
          --from.count;
          to.assigned[topic].insert(p);
          ++to.count;
          moved = true;
          break;
        }
        if (moved) break;
      }
      if (moved) break;
    }
  }
  for (auto& s : slots) {
    std::erase_if(s.assigned, [](const auto& e) { return e.second.empty(); });
    out[s.member->member_id] = std::move(s.assigned);
  }
  return out;
}

std::map<std::string, TopicAssignment> assign_range(const std::vector<AssignorMember>& members,
                                                    const std::map<std::string, SubscribedTopic>& topics) {
  std::map<std::string, TopicAssignment> out;
  for (const auto& m : members) out[m.member_id];
  for (const auto& [name, t] : topics) {
    std::vector<std::string> subscribed;  // sorted: out is a map
    for (const auto& [id, _] : out) {
      auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.member_id == id; });
      if (subscribes(*it, name)) subscribed.push_back(id);
    }
    if (subscribed.empty() || t.partitions <= 0) continue;
    const int32_t n = static_cast<int32_t>(subscribed.size());
    const int32_t per = t.partitions / n;
    const int32_t extra = t.partitions % n;
    for (int32_t i = 0; i < n; ++i) {
      int32_t start = i * per + std::min(i, extra);
      int32_t len = per + (i < extra ? 1 : 0);
      for (int32_t p = start; p < start + len; ++p) out[subscribed[i]][t.id].insert(p);
    }
  }
  return out;
}

}  // namespace runnel::group
