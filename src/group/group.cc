#include "group/group.h"

#include <algorithm>
#include <random>

namespace runnel::group {

std::string_view state_name(GroupState s) {
  switch (s) {
    case GroupState::Empty:
      return "Empty";
    case GroupState::PreparingRebalance:
      return "PreparingRebalance";
    case GroupState::CompletingRebalance:
      return "CompletingRebalance";
    case GroupState::Stable:
      return "Stable";
    case GroupState::Dead:
      return "Dead";
  }
  return "Unknown";
}

namespace {
std::chrono::milliseconds ms(int64_t v) { return std::chrono::milliseconds(v); }
}  // namespace

std::string Group::new_member_id(const std::string& client_id) const {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = (client_id.empty() ? std::string("member") : client_id) + "-";
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
    id += hex[rng() & 15];
  }
  return id;
}

Bytes Group::member_metadata(const Member& m) const {
  for (const auto& p : m.protocols)
    if (protocol_name_ && p.name == *protocol_name_) return p.metadata;
  return {};
}

bool Group::supports_protocols(const std::string& type, const std::vector<Protocol>& protocols) const {
  if (protocols.empty() || type.empty()) return false;
  if (members_.empty()) return true;
  if (type != protocol_type_) return false;
  // Every current member must support at least one of the offered protocols.
  for (const auto& p : protocols) {
    bool all = std::all_of(members_.begin(), members_.end(), [&](const auto& kv) {
      return std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                         [&](const Protocol& q) { return q.name == p.name; });
    });
    if (all) return true;
  }
  return false;
}

std::optional<std::string> Group::select_protocol() const {
  // Kafka: candidates are the protocols every member supports; each member
  // votes for its most preferred candidate; the most votes wins.
  if (members_.empty()) return std::nullopt;
  std::vector<std::string> candidates;
  for (const auto& p : members_.begin()->second.protocols) {
    bool all = std::all_of(members_.begin(), members_.end(), [&](const auto& kv) {
      return std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                         [&](const Protocol& q) { return q.name == p.name; });
    });
    if (all) candidates.push_back(p.name);
  }
  if (candidates.empty()) return std::nullopt;
  std::map<std::string, int> votes;
  for (const auto& [_, m] : members_) {
    for (const auto& p : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        votes[p.name]++;
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates)
    if (votes[c] > votes[best]) best = c;
  return best;
}

void Group::reset_session(Member& m, Clock::time_point now) { m.session_deadline = now + ms(m.session_timeout_ms); }

JoinResult Group::join_result_for(const Member& m) const {
  JoinResult r;
  r.generation_id = generation_;
  r.protocol_type = protocol_type_;
  r.protocol_name = protocol_name_;
  r.leader = leader_;
  r.member_id = m.id;
  if (m.id == leader_) {
    for (const auto& [id, other] : members_) r.members.push_back({id, other.group_instance_id, member_metadata(other)});
  }
  return r;
}

void Group::join(const JoinRequest& req, Clock::time_point now, std::function<void(JoinResult)> respond) {
  auto fail = [&](ErrorCode e, std::string member_id = {}) {
    JoinResult r;
    r.error = e;
    r.member_id = std::move(member_id);
    respond(std::move(r));
  };
  if (state_ == GroupState::Dead) return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE, req.member_id);
  if (req.session_timeout_ms < limits_.min_session_timeout_ms ||
      req.session_timeout_ms > limits_.max_session_timeout_ms)
    return fail(ErrorCode::INVALID_SESSION_TIMEOUT, req.member_id);
  if (!supports_protocols(req.protocol_type, req.protocols))
    return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id);

  auto make_member = [&](const std::string& id) {
    Member m;
    m.id = id;
    m.group_instance_id = req.group_instance_id;
    m.client_id = req.client_id;
    m.client_host = req.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
    m.protocol_type = req.protocol_type;
    m.protocols = req.protocols;
    return m;
  };

  if (req.member_id.empty()) {
    std::string id = new_member_id(req.client_id);
    if (req.group_instance_id) {
      // Static membership (KIP-345): a known instance id takes over its old
      // member's place; the old member id is fenced.
      auto old = std::find_if(members_.begin(), members_.end(),
                              [&](const auto& kv) { return kv.second.group_instance_id == req.group_instance_id; });
      if (old != members_.end()) {
        Member m = std::move(old->second);
        std::string old_id = m.id;
        members_.erase(old);
        if (m.awaiting_join) {
          JoinResult fenced;
          fenced.error = ErrorCode::FENCED_INSTANCE_ID;
          fenced.member_id = old_id;
          m.awaiting_join(fenced);
          m.awaiting_join = nullptr;
        }
        if (m.awaiting_sync) {
          m.awaiting_sync(SyncResult{ErrorCode::FENCED_INSTANCE_ID, {}, {}, {}});
          m.awaiting_sync = nullptr;
        }
        bool same_protocols = m.protocols.size() == req.protocols.size() &&
                              std::equal(m.protocols.begin(), m.protocols.end(), req.protocols.begin(),
                                         [](const Protocol& a, const Protocol& b) {
                                           return a.name == b.name && a.metadata == b.metadata;
                                         });
        Member replacement = make_member(id);
        replacement.assignment = m.assignment;
        if (leader_ == old_id) leader_ = id;
        if (state_ == GroupState::Stable && same_protocols) {
          // Nothing changed for the group: hand back the current generation, no rebalance.
          reset_session(replacement, now);
          members_[id] = std::move(replacement);
          dirty_ = true;  // the stored member id changed
          JoinResult r = join_result_for(members_[id]);
          respond(std::move(r));
          return;
        }
        replacement.awaiting_join = std::move(respond);
        add_member(std::move(replacement), now);
        return;
      }
    } else if (req.require_known_member_id) {
      // KIP-394: hand out the id first; the member comes back with it.
      pending_members_[id] = now + ms(req.session_timeout_ms);
      return fail(ErrorCode::MEMBER_ID_REQUIRED, id);
    }
    Member m = make_member(id);
    m.awaiting_join = std::move(respond);
    add_member(std::move(m), now);
    return;
  }

  auto it = members_.find(req.member_id);
  if (it == members_.end()) {
    auto pending = pending_members_.find(req.member_id);
    if (pending == pending_members_.end()) return fail(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id);
    pending_members_.erase(pending);
    Member m = make_member(req.member_id);
    m.awaiting_join = std::move(respond);
    add_member(std::move(m), now);
    return;
  }
  Member& m = it->second;
  if (m.group_instance_id != req.group_instance_id && req.group_instance_id)
    return fail(ErrorCode::FENCED_INSTANCE_ID, req.member_id);
  if (m.awaiting_join) {
    // A retried join replaces the earlier one, which gets no answer of its own.
    JoinResult superseded;
    superseded.error = ErrorCode::REBALANCE_IN_PROGRESS;
    superseded.member_id = m.id;
    m.awaiting_join(superseded);
    m.awaiting_join = nullptr;
  }
  bool same_protocols =
      m.protocols.size() == req.protocols.size() &&
      std::equal(m.protocols.begin(), m.protocols.end(), req.protocols.begin(),
                 [](const Protocol& a, const Protocol& b) { return a.name == b.name && a.metadata == b.metadata; });
  m.protocols = req.protocols;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  reset_session(m, now);

  if ((state_ == GroupState::Stable || state_ == GroupState::CompletingRebalance) && same_protocols &&
      m.id != leader_) {
    // A follower rejoining with unchanged metadata gets the current generation back.
    respond(join_result_for(m));
    return;
  }
  m.awaiting_join = std::move(respond);
  if (state_ != GroupState::PreparingRebalance) prepare_rebalance(now);
  maybe_complete_join(now);
}

void Group::add_member(Member member, Clock::time_point now) {
  if (members_.empty()) protocol_type_ = member.protocol_type;
  reset_session(member, now);
  std::string id = member.id;
  members_[id] = std::move(member);
  if (leader_.empty() || !members_.count(leader_)) leader_ = id;
  if (state_ == GroupState::PreparingRebalance && now < join_not_before_) {
    // Kafka's initial rebalance delay: each member that arrives while the
    // delay runs extends it, up to the rebalance timeout.
    join_not_before_ = std::min(rebalance_deadline_, now + ms(limits_.initial_rebalance_delay_ms));
  }
  if (state_ != GroupState::PreparingRebalance) prepare_rebalance(now);
  maybe_complete_join(now);
}

void Group::prepare_rebalance(Clock::time_point now) {
  // Members waiting for an assignment of the old generation must rejoin.
  for (auto& [_, m] : members_) {
    if (m.awaiting_sync) {
      m.awaiting_sync(SyncResult{ErrorCode::REBALANCE_IN_PROGRESS, {}, {}, {}});
      m.awaiting_sync = nullptr;
    }
  }
  int32_t timeout = 0;
  for (const auto& [_, m] : members_) timeout = std::max(timeout, m.rebalance_timeout_ms);
  bool initial = state_ == GroupState::Empty;
  state_ = GroupState::PreparingRebalance;
  rebalance_deadline_ = now + ms(timeout);
  join_not_before_ = initial ? std::min(rebalance_deadline_, now + ms(limits_.initial_rebalance_delay_ms)) : now;
}

void Group::maybe_complete_join(Clock::time_point now) {
  if (state_ != GroupState::PreparingRebalance) return;
  bool all_joined = std::all_of(members_.begin(), members_.end(),
                                [](const auto& kv) { return static_cast<bool>(kv.second.awaiting_join); });
  if ((all_joined && now >= join_not_before_) || now >= rebalance_deadline_) complete_join(now);
}

void Group::complete_join(Clock::time_point now) {
  // Members that did not rejoin in time leave the group.
  for (auto it = members_.begin(); it != members_.end();) {
    if (!it->second.awaiting_join)
      it = members_.erase(it);
    else
      ++it;
  }
  if (members_.empty()) {
    state_ = GroupState::Empty;
    ++generation_;
    protocol_name_.reset();
    leader_.clear();
    dirty_ = true;
    return;
  }
  if (!members_.count(leader_)) leader_ = members_.begin()->first;
  ++generation_;
  protocol_name_ = select_protocol();
  state_ = GroupState::CompletingRebalance;
  dirty_ = true;
  for (auto& [_, m] : members_) {
    auto respond = std::move(m.awaiting_join);
    m.awaiting_join = nullptr;
    m.assignment.clear();
    reset_session(m, now);
    respond(join_result_for(m));
  }
}

void Group::sync(const SyncRequest& req, Clock::time_point now, std::function<void(SyncResult)> respond) {
  auto fail = [&](ErrorCode e) { respond(SyncResult{e, {}, {}, {}}); };
  if (state_ == GroupState::Dead) return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE);
  auto it = members_.find(req.member_id);
  if (it == members_.end()) return fail(ErrorCode::UNKNOWN_MEMBER_ID);
  Member& m = it->second;
  if (req.group_instance_id && m.group_instance_id != req.group_instance_id) return fail(ErrorCode::FENCED_INSTANCE_ID);
  if (req.generation_id != generation_) return fail(ErrorCode::ILLEGAL_GENERATION);
  if ((req.protocol_type && *req.protocol_type != protocol_type_) ||
      (req.protocol_name && *req.protocol_name != protocol_name_))
    return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  reset_session(m, now);
  switch (state_) {
    case GroupState::Empty:
      return fail(ErrorCode::UNKNOWN_MEMBER_ID);
    case GroupState::PreparingRebalance:
      return fail(ErrorCode::REBALANCE_IN_PROGRESS);
    case GroupState::Stable:
      respond(SyncResult{ErrorCode::NONE, protocol_type_, protocol_name_, m.assignment});
      return;
    case GroupState::CompletingRebalance:
      break;
    case GroupState::Dead:
      return;
  }
  m.awaiting_sync = std::move(respond);
  if (m.id != leader_) return;
  for (auto& [id, member] : members_) {
    auto a = req.assignments.find(id);
    member.assignment = a == req.assignments.end() ? Bytes{} : a->second;
  }
  state_ = GroupState::Stable;
  dirty_ = true;
  for (auto& [_, member] : members_) {
    if (!member.awaiting_sync) continue;
    auto cb = std::move(member.awaiting_sync);
    member.awaiting_sync = nullptr;
    cb(SyncResult{ErrorCode::NONE, protocol_type_, protocol_name_, member.assignment});
  }
}

ErrorCode Group::heartbeat(const std::string& member_id, std::optional<std::string> instance_id, int32_t generation,
                           Clock::time_point now) {
  if (state_ == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  auto it = members_.find(member_id);
  if (it == members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (instance_id && it->second.group_instance_id != instance_id) return ErrorCode::FENCED_INSTANCE_ID;
  if (generation != generation_) return ErrorCode::ILLEGAL_GENERATION;
  reset_session(it->second, now);
  if (state_ == GroupState::PreparingRebalance) return ErrorCode::REBALANCE_IN_PROGRESS;
  return ErrorCode::NONE;
}

ErrorCode Group::leave(const std::string& member_id, const std::optional<std::string>& instance_id,
                       Clock::time_point now) {
  std::string id = member_id;
  if (id.empty() && instance_id) {
    for (const auto& [mid, m] : members_)
      if (m.group_instance_id == instance_id) id = mid;
  }
  auto it = members_.find(id);
  if (it == members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (instance_id && it->second.group_instance_id != instance_id) return ErrorCode::FENCED_INSTANCE_ID;
  remove_member(id, now);
  return ErrorCode::NONE;
}

void Group::remove_member(const std::string& member_id, Clock::time_point now) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  Member m = std::move(it->second);
  members_.erase(it);
  if (m.awaiting_join) {
    JoinResult r;
    r.error = ErrorCode::UNKNOWN_MEMBER_ID;
    r.member_id = member_id;
    m.awaiting_join(r);
  }
  if (m.awaiting_sync) m.awaiting_sync(SyncResult{ErrorCode::UNKNOWN_MEMBER_ID, {}, {}, {}});
  if (leader_ == member_id) leader_ = members_.empty() ? std::string() : members_.begin()->first;
  switch (state_) {
    case GroupState::Stable:
    case GroupState::CompletingRebalance:
      if (members_.empty()) {
        state_ = GroupState::PreparingRebalance;
        complete_join(now);  // to Empty, with a new generation
      } else {
        prepare_rebalance(now);
      }
      break;
    case GroupState::PreparingRebalance:
      maybe_complete_join(now);
      if (members_.empty() && state_ == GroupState::PreparingRebalance) complete_join(now);
      break;
    default:
      break;
  }
}

ErrorCode Group::validate_commit(const std::string& member_id, const std::optional<std::string>& instance_id,
                                 int32_t generation) const {
  if (state_ == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (generation < 0 && member_id.empty()) {
    // A commit from outside the group protocol (assign() users): only while no one is a member.
    return state_ == GroupState::Empty ? ErrorCode::NONE : ErrorCode::UNKNOWN_MEMBER_ID;
  }
  if (state_ == GroupState::CompletingRebalance) return ErrorCode::REBALANCE_IN_PROGRESS;
  auto it = members_.find(member_id);
  if (it == members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (instance_id && it->second.group_instance_id != instance_id) return ErrorCode::FENCED_INSTANCE_ID;
  if (generation != generation_) return ErrorCode::ILLEGAL_GENERATION;
  return ErrorCode::NONE;
}

bool Group::tick(Clock::time_point now) {
  bool changed = false;
  std::erase_if(pending_members_, [now](const auto& kv) { return kv.second < now; });
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    // A member waiting for its join answer cannot heartbeat; the rebalance timeout bounds it instead.
    if (!m.awaiting_join && m.session_deadline < now) expired.push_back(id);
  }
  for (const auto& id : expired) {
    remove_member(id, now);
    changed = true;
  }
  if (state_ == GroupState::PreparingRebalance) {
    auto before = generation_;
    maybe_complete_join(now);
    changed |= generation_ != before;
  }
  return changed;
}

void Group::restore(int32_t generation, std::string protocol_type, std::optional<std::string> protocol_name,
                    std::string leader, std::vector<Member> members, Clock::time_point now) {
  generation_ = generation;
  protocol_type_ = std::move(protocol_type);
  protocol_name_ = std::move(protocol_name);
  members_.clear();
  pending_members_.clear();
  for (auto& m : members) {
    reset_session(m, now);
    std::string id = m.id;
    members_[id] = std::move(m);
  }
  leader_ = members_.count(leader) ? std::move(leader) : std::string();
  if (leader_.empty() && !members_.empty()) leader_ = members_.begin()->first;
  state_ = members_.empty() ? GroupState::Empty : GroupState::Stable;
}

}  // namespace runnel::group
