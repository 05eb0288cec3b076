#include "group/group.h"

#include <spdlog/spdlog.h>

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

bool same_protocols(const std::vector<Protocol>& a, const std::vector<Protocol>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const Protocol& x, const Protocol& y) { return x.name == y.name && x.metadata == y.metadata; });
}

}  // namespace

// ---- membership bookkeeping ------------------------------------------------

std::string Group::new_member_id(const JoinRequest& req) const {
  // Kafka: "<group.instance.id or client.id>-<uuid>".
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id =
      req.group_instance_id ? *req.group_instance_id : (req.client_id.empty() ? std::string("member") : req.client_id);
  id += "-";
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
    id += hex[rng() & 15];
  }
  return id;
}

std::optional<std::string> Group::static_member(const std::string& instance_id) const {
  auto it = static_members_.find(instance_id);
  if (it == static_members_.end()) return std::nullopt;
  return it->second;
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

int32_t Group::rebalance_timeout_ms() const {
  int32_t timeout = 0;
  for (const auto& [_, m] : members_) timeout = std::max(timeout, m.rebalance_timeout_ms);
  return timeout;
}

std::string Group::describe_members() const {
  std::string out = "[";
  for (const auto& [id, m] : members_) {
    if (out.size() > 1) out += ", ";
    out += id;
    if (m.group_instance_id) out += " (instance " + *m.group_instance_id + ")";
    if (id == leader_) out += " (leader)";
  }
  return out + "]";
}

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

std::optional<ErrorCode> Group::validate_member(const std::string& member_id,
                                                const std::optional<std::string>& instance_id) const {
  // A request that names an instance id must come from the member id that
  // instance maps to now: any other id belongs to a replaced (fenced) process.
  if (instance_id) {
    auto it = static_members_.find(*instance_id);
    if (it == static_members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
    if (it->second != member_id) return ErrorCode::FENCED_INSTANCE_ID;
    return std::nullopt;
  }
  if (!members_.count(member_id)) return ErrorCode::UNKNOWN_MEMBER_ID;
  return std::nullopt;
}

Member Group::make_member(const std::string& id, const JoinRequest& req) const {
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
}

void Group::update_member(Member& m, const JoinRequest& req, std::function<void(JoinResult)> respond) {
  if (m.awaiting_join) {
    // Kafka drops the earlier join silently; here every request gets an
    // answer, so that no connection waits for one forever.
    std::exchange(m.awaiting_join, nullptr)(JoinResult::failed(ErrorCode::REBALANCE_IN_PROGRESS, m.id));
  }
  m.protocols = req.protocols;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  m.awaiting_join = std::move(respond);
}

void Group::add_member_and_rebalance(Member member, Clock::time_point now) {
  if (members_.empty()) protocol_type_ = member.protocol_type;
  reset_session(member, now);
  std::string id = member.id;
  if (member.group_instance_id) static_members_[*member.group_instance_id] = id;
  pending_members_.erase(id);
  std::string reason = "adding member " + id +
                       (member.group_instance_id ? " with instance id " + *member.group_instance_id : std::string());
  members_[id] = std::move(member);
  if (leader_.empty()) leader_ = id;
  if (state_ == GroupState::PreparingRebalance && now < join_not_before_) {
    // Kafka's initial rebalance delay: each member that arrives while the
    // delay runs extends it, up to the rebalance timeout.
    join_not_before_ = std::min(rebalance_deadline_, now + ms(limits_.initial_rebalance_delay_ms));
  }
  maybe_prepare_rebalance(now, reason);
}

void Group::remove_member_and_update(const std::string& member_id, Clock::time_point now, const std::string& reason) {
  auto node = members_.extract(member_id);
  if (node.empty()) return;
  Member& m = node.mapped();
  // A member removed while it waits learns it must join again from scratch.
  if (m.awaiting_join) m.awaiting_join(JoinResult::failed(ErrorCode::UNKNOWN_MEMBER_ID, ""));
  if (m.awaiting_sync) m.awaiting_sync(SyncResult::failed(ErrorCode::UNKNOWN_MEMBER_ID));
  if (m.group_instance_id) {
    auto s = static_members_.find(*m.group_instance_id);
    if (s != static_members_.end() && s->second == member_id) static_members_.erase(s);
  }
  pending_syncs_.erase(member_id);
  if (leader_ == member_id) leader_ = members_.empty() ? std::string() : members_.begin()->first;
  spdlog::info("group {}: removed member {} in {} ({})", id_, member_id, state_name(state_), reason);
  switch (state_) {
    case GroupState::Stable:
    case GroupState::CompletingRebalance:
      maybe_prepare_rebalance(now, reason);
      maybe_complete_join(now);  // an emptied group goes straight to Empty
      break;
    case GroupState::PreparingRebalance:
      maybe_complete_join(now);  // the remaining members may all have joined
      break;
    default:
      break;
  }
}

void Group::unload(ErrorCode error) {
  state_ = GroupState::Dead;
  for (auto& [id, m] : members_) {
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(JoinResult::failed(error, id));
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(SyncResult::failed(error));
  }
  pending_syncs_.clear();
}

// ---- JoinGroup -------------------------------------------------------------

bool Group::accepts_joining_member(const std::string& member_id) const {
  auto known = members_.find(member_id);
  switch (state_) {
    case GroupState::Empty:
    case GroupState::Dead:
      return true;
    case GroupState::PreparingRebalance: {
      // Counted are the members that have rejoined, not the group's size:
      // a group over the limit (lowered since it formed) keeps the first
      // max_size members to rejoin and turns the last ones away.
      if (known != members_.end() && known->second.awaiting_join) return true;
      auto joined = std::count_if(members_.begin(), members_.end(),
                                  [](const auto& kv) { return static_cast<bool>(kv.second.awaiting_join); });
      return joined < limits_.max_size;
    }
    case GroupState::CompletingRebalance:
    case GroupState::Stable:
      // Members that did not rejoin left at the end of the join phase, so
      // the group's size counts here. A static member coming back under a
      // new member id is a new member too, as in Kafka 4.0-4.2.
      return known != members_.end() || static_cast<int64_t>(members_.size()) < limits_.max_size;
  }
  return true;
}

bool Group::rebalance_if_over_capacity(Clock::time_point now) {
  if (static_cast<int64_t>(members_.size()) <= limits_.max_size) return false;
  maybe_prepare_rebalance(now, "loaded with " + std::to_string(members_.size()) + " members, over group.max.size " +
                                   std::to_string(limits_.max_size) +
                                   "; rebalancing so that consumers can commit their offsets");
  return true;
}

void Group::join(const JoinRequest& req, Clock::time_point now, std::function<void(JoinResult)> respond) {
  if (state_ == GroupState::Dead)
    return respond(JoinResult::failed(ErrorCode::COORDINATOR_NOT_AVAILABLE, req.member_id));
  if (req.session_timeout_ms < limits_.min_session_timeout_ms ||
      req.session_timeout_ms > limits_.max_session_timeout_ms)
    return respond(JoinResult::failed(ErrorCode::INVALID_SESSION_TIMEOUT, req.member_id));
  if (!accepts_joining_member(req.member_id)) {
    // As Kafka: the refused member id is forgotten, whether it was issued
    // (MEMBER_ID_REQUIRED) or a member that had not rejoined yet.
    if (pending_members_.erase(req.member_id) == 0 && members_.count(req.member_id))
      remove_member_and_update(req.member_id, now, "the group is at group.max.size");
    spdlog::info("group {}: member {} refused in {}: the group has reached its maximum size of {}", id_,
                 req.member_id.empty() ? "(new)" : req.member_id, state_name(state_), limits_.max_size);
    respond(JoinResult::failed(ErrorCode::GROUP_MAX_SIZE_REACHED, ""));
    maybe_complete_join(now);  // it may have been the one waited for
    return;
  }
  if (!supports_protocols(req.protocol_type, req.protocols))
    return respond(JoinResult::failed(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
  if (req.member_id.empty())
    join_unknown_member(req, now, std::move(respond));
  else
    join_known_member(req, now, std::move(respond));
  // Kafka tries to complete a pending rebalance after every join.
  maybe_complete_join(now);
}

void Group::join_unknown_member(const JoinRequest& req, Clock::time_point now,
                                std::function<void(JoinResult)> respond) {
  if (req.group_instance_id) {
    // KIP-345: a known instance id takes over its member's place under a new
    // member id; without one, a static member joins at once (no MEMBER_ID_REQUIRED).
    if (auto old = static_member(*req.group_instance_id))
      return replace_static_member(*old, req, now, std::move(respond));
  } else if (req.require_known_member_id) {
    // KIP-394: hand out the id first; the member comes back with it.
    std::string id = new_member_id(req);
    pending_members_[id] = now + ms(req.session_timeout_ms);
    return respond(JoinResult::failed(ErrorCode::MEMBER_ID_REQUIRED, id));
  }
  Member m = make_member(new_member_id(req), req);
  m.awaiting_join = std::move(respond);
  add_member_and_rebalance(std::move(m), now);
}

void Group::replace_static_member(const std::string& old_id, const JoinRequest& req, Clock::time_point now,
                                  std::function<void(JoinResult)> respond) {
  std::string new_id = new_member_id(req);
  std::string previous_leader = leader_;
  auto node = members_.extract(old_id);
  Member m = std::move(node.mapped());
  // The old process may still be waiting on a join or sync: it is fenced now.
  if (m.awaiting_join)
    std::exchange(m.awaiting_join, nullptr)(JoinResult::failed(ErrorCode::FENCED_INSTANCE_ID, old_id));
  if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(SyncResult::failed(ErrorCode::FENCED_INSTANCE_ID));
  m.id = new_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  if (pending_syncs_.erase(old_id)) pending_syncs_.insert(new_id);
  if (leader_ == old_id) leader_ = new_id;
  static_members_[*req.group_instance_id] = new_id;
  reset_session(m, now);
  Member& member = members_[new_id] = std::move(m);
  update_member(member, req, std::move(respond));
  spdlog::info("group {}: static member {} rejoined in {}: member {} replaces {}, which is fenced", id_,
               *req.group_instance_id, state_name(state_), new_id, old_id);
  dirty_ = true;  // the stored member id changed
  switch (state_) {
    case GroupState::Stable: {
      if (select_protocol() != protocol_name_) {
        prepare_rebalance(now, "static member " + new_id + " changes the group's protocol");
        return;
      }
      // Nothing changes for the group: the new member gets the current
      // generation and, through SyncGroup, its predecessor's assignment.
      // Before v9 the old leader id is returned, so that a replaced leader
      // does not compute an assignment a Stable group would ignore; from v9
      // the leader learns it leads but is told to skip the assignment.
      JoinResult r;
      r.generation_id = generation_;
      r.protocol_type = protocol_type_;
      r.protocol_name = protocol_name_;
      r.member_id = new_id;
      r.skip_assignment = req.supports_skip_assignment;
      r.leader = req.supports_skip_assignment ? leader_ : previous_leader;
      if (req.supports_skip_assignment && new_id == leader_) r.members = join_result_for(member).members;
      std::exchange(member.awaiting_join, nullptr)(std::move(r));
      return;
    }
    case GroupState::CompletingRebalance:
      // The leader may already be assigning to the old member id: start over.
      prepare_rebalance(now, "static member " + new_id + " replaced " + old_id + " during CompletingRebalance");
      return;
    default:
      return;  // PreparingRebalance: the new member id takes part in this rebalance
  }
}

void Group::join_known_member(const JoinRequest& req, Clock::time_point now, std::function<void(JoinResult)> respond) {
  if (pending_members_.count(req.member_id) && !req.group_instance_id) {
    Member m = make_member(req.member_id, req);
    m.awaiting_join = std::move(respond);
    add_member_and_rebalance(std::move(m), now);
    return;
  }
  if (auto error = validate_member(req.member_id, req.group_instance_id))
    return respond(JoinResult::failed(*error, req.member_id));
  Member& m = members_.at(req.member_id);
  bool changed = !same_protocols(m.protocols, req.protocols);
  std::string why = req.reason.empty() ? std::string() : " (client: " + req.reason + ")";
  switch (state_) {
    case GroupState::PreparingRebalance:
      update_member(m, req, std::move(respond));
      return;
    case GroupState::CompletingRebalance:
      if (!changed) {
        // Probably a lost JoinGroup answer: the same answer again.
        reset_session(m, now);
        return respond(join_result_for(m));
      }
      update_member(m, req, std::move(respond));
      prepare_rebalance(now, "member " + m.id + " changed its metadata during CompletingRebalance" + why);
      return;
    case GroupState::Stable:
      if (m.id == leader_ || changed) {
        // The leader rejoins when something the assignment depends on changed
        // (topic metadata for consumers), even if its own metadata did not.
        std::string who = m.id == leader_ ? "leader " : "member ";
        update_member(m, req, std::move(respond));
        prepare_rebalance(now, who + m.id + " rejoined" + (changed ? " with changed metadata" : "") + why);
        return;
      }
      reset_session(m, now);
      return respond(join_result_for(m));
    default:
      return respond(JoinResult::failed(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id));
  }
}

// ---- rebalance -------------------------------------------------------------

void Group::maybe_prepare_rebalance(Clock::time_point now, const std::string& reason) {
  if (state_ == GroupState::Stable || state_ == GroupState::CompletingRebalance || state_ == GroupState::Empty)
    prepare_rebalance(now, reason);
}

void Group::prepare_rebalance(Clock::time_point now, const std::string& reason) {
  if (state_ == GroupState::CompletingRebalance) {
    // Members waiting for an assignment of the old generation must rejoin.
    for (auto& [_, m] : members_) {
      m.assignment.clear();
      if (m.awaiting_sync)
        std::exchange(m.awaiting_sync, nullptr)(SyncResult::failed(ErrorCode::REBALANCE_IN_PROGRESS));
    }
  }
  pending_syncs_.clear();
  bool initial = state_ == GroupState::Empty;
  spdlog::info("group {}: preparing to rebalance in state {} with old generation {} (reason: {}); members {}", id_,
               state_name(state_), generation_, reason, describe_members());
  state_ = GroupState::PreparingRebalance;
  rebalance_deadline_ = now + ms(rebalance_timeout_ms());
  join_not_before_ = initial ? std::min(rebalance_deadline_, now + ms(limits_.initial_rebalance_delay_ms)) : now;
}

bool Group::all_members_joined() const {
  // Members that were handed an id (MEMBER_ID_REQUIRED) are waited for too.
  return pending_members_.empty() && std::all_of(members_.begin(), members_.end(), [](const auto& kv) {
           return static_cast<bool>(kv.second.awaiting_join);
         });
}

void Group::maybe_complete_join(Clock::time_point now) {
  if (state_ != GroupState::PreparingRebalance) return;
  if ((all_members_joined() && now >= join_not_before_) || now >= rebalance_deadline_) complete_join(now);
}

void Group::complete_join(Clock::time_point now) {
  // Dynamic members that did not rejoin in time leave the group; static ones
  // stay, with their place kept for this generation.
  std::vector<std::string> dropped;
  for (auto it = members_.begin(); it != members_.end();) {
    if (!it->second.awaiting_join && !it->second.group_instance_id) {
      dropped.push_back(it->first);
      pending_syncs_.erase(it->first);
      it = members_.erase(it);
    } else {
      ++it;
    }
  }
  if (!dropped.empty()) {
    std::string ids;
    for (const auto& d : dropped) ids += (ids.empty() ? "" : ", ") + d;
    spdlog::info("group {}: removed members that did not rejoin: [{}]", id_, ids);
  }
  if (!members_.empty()) {
    auto leader = members_.find(leader_);
    if (leader == members_.end() || !leader->second.awaiting_join) {
      auto joined = std::find_if(members_.begin(), members_.end(),
                                 [](const auto& kv) { return static_cast<bool>(kv.second.awaiting_join); });
      if (joined == members_.end()) {
        // Only static members that did not rejoin: wait another rebalance
        // timeout, until their sessions run out.
        spdlog::error("group {}: could not complete rebalance because no members rejoined", id_);
        rebalance_deadline_ = now + ms(rebalance_timeout_ms());
        return;
      }
      leader_ = joined->first;
    }
  }
  ++generation_;
  dirty_ = true;
  if (members_.empty()) {
    state_ = GroupState::Empty;
    protocol_name_.reset();
    leader_.clear();
    spdlog::info("group {}: generation {} is empty", id_, generation_);
    return;
  }
  protocol_name_ = select_protocol();
  state_ = GroupState::CompletingRebalance;
  spdlog::info("group {}: generation {} ({}) with {} members {}", id_, generation_, protocol_name_.value_or("-"),
               members_.size(), describe_members());
  // Every member must now sync within the rebalance timeout (Kafka's pending syncs).
  sync_deadline_ = now + ms(rebalance_timeout_ms());
  for (auto& [id, m] : members_) {
    pending_syncs_.insert(id);
    reset_session(m, now);
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_result_for(m));
  }
}

// ---- SyncGroup, Heartbeat, LeaveGroup, commits ----------------------------

void Group::sync(const SyncRequest& req, Clock::time_point now, std::function<void(SyncResult)> respond) {
  if (state_ == GroupState::Dead) return respond(SyncResult::failed(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  if (auto error = validate_member(req.member_id, req.group_instance_id)) return respond(SyncResult::failed(*error));
  if (req.generation_id != generation_) return respond(SyncResult::failed(ErrorCode::ILLEGAL_GENERATION));
  if ((req.protocol_type && *req.protocol_type != protocol_type_) ||
      (req.protocol_name && *req.protocol_name != protocol_name_))
    return respond(SyncResult::failed(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
  Member& m = members_.at(req.member_id);
  switch (state_) {
    case GroupState::Empty:
      return respond(SyncResult::failed(ErrorCode::UNKNOWN_MEMBER_ID));
    case GroupState::PreparingRebalance:
      return respond(SyncResult::failed(ErrorCode::REBALANCE_IN_PROGRESS));
    case GroupState::Stable:
      pending_syncs_.erase(m.id);
      reset_session(m, now);
      return respond(SyncResult{ErrorCode::NONE, protocol_type_, protocol_name_, m.assignment});
    case GroupState::CompletingRebalance:
      break;
    case GroupState::Dead:
      return;
  }
  if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(SyncResult::failed(ErrorCode::REBALANCE_IN_PROGRESS));
  m.awaiting_sync = std::move(respond);
  pending_syncs_.erase(m.id);
  reset_session(m, now);
  if (m.id != leader_) return;
  for (auto& [id, member] : members_) {
    auto a = req.assignments.find(id);
    member.assignment = a == req.assignments.end() ? Bytes{} : a->second;  // missing members get nothing
  }
  state_ = GroupState::Stable;
  dirty_ = true;
  spdlog::info("group {}: assignment received from leader {} for generation {}; Stable with {} members", id_, m.id,
               generation_, members_.size());
  for (auto& [_, member] : members_) {
    if (!member.awaiting_sync) continue;
    std::exchange(member.awaiting_sync,
                  nullptr)(SyncResult{ErrorCode::NONE, protocol_type_, protocol_name_, member.assignment});
  }
}

ErrorCode Group::heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id,
                           int32_t generation, Clock::time_point now) {
  if (state_ == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (auto error = validate_member(member_id, instance_id)) return *error;
  if (generation != generation_) return ErrorCode::ILLEGAL_GENERATION;
  if (state_ == GroupState::Empty) return ErrorCode::UNKNOWN_MEMBER_ID;
  reset_session(members_.at(member_id), now);
  return state_ == GroupState::PreparingRebalance ? ErrorCode::REBALANCE_IN_PROGRESS : ErrorCode::NONE;
}

ErrorCode Group::leave(const std::string& member_id, const std::optional<std::string>& instance_id,
                       Clock::time_point now) {
  if (state_ == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (member_id.empty()) {
    // Administrative removal by instance id alone (LeaveGroup v3+).
    auto current = instance_id ? static_member(*instance_id) : std::nullopt;
    if (!current) return ErrorCode::UNKNOWN_MEMBER_ID;
    remove_member_and_update(*current, now, "instance " + *instance_id + " left");
    return ErrorCode::NONE;
  }
  if (pending_members_.erase(member_id)) {
    maybe_complete_join(now);  // it was waited for
    return ErrorCode::NONE;
  }
  if (auto error = validate_member(member_id, instance_id)) return *error;
  remove_member_and_update(member_id, now, "member " + member_id + " left the group");
  return ErrorCode::NONE;
}

ErrorCode Group::validate_commit(const std::string& member_id, const std::optional<std::string>& instance_id,
                                 int32_t generation) const {
  if (state_ == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (generation >= 0 || !member_id.empty() || instance_id) {
    if (auto error = validate_member(member_id, instance_id)) return *error;
    if (generation != generation_) return ErrorCode::ILLEGAL_GENERATION;
  } else if (state_ != GroupState::Empty) {
    // A commit from outside the group protocol (assign() users): only while no one is a member.
    return ErrorCode::UNKNOWN_MEMBER_ID;
  }
  // Valid, but the assignment of this generation is not known yet.
  if (state_ == GroupState::CompletingRebalance) return ErrorCode::REBALANCE_IN_PROGRESS;
  return ErrorCode::NONE;
}

// ---- time ------------------------------------------------------------------

void Group::expire_pending_syncs(Clock::time_point now) {
  if (pending_syncs_.empty() || now < sync_deadline_) return;
  if (state_ != GroupState::CompletingRebalance && state_ != GroupState::Stable) return;
  std::vector<std::string> late(pending_syncs_.begin(), pending_syncs_.end());
  pending_syncs_.clear();
  for (const auto& id : late) remove_member_and_update(id, now, "member " + id + " did not send SyncGroup in time");
}

bool Group::tick(Clock::time_point now) {
  auto before = std::tuple(generation_, state_, members_.size());
  size_t pending = pending_members_.size();
  std::erase_if(pending_members_, [now](const auto& kv) { return kv.second < now; });
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    // Members waiting for a join or sync answer cannot heartbeat; the
    // rebalance timeout bounds them instead.
    if (!m.awaiting_join && !m.awaiting_sync && m.session_deadline < now) expired.push_back(id);
  }
  for (const auto& id : expired) remove_member_and_update(id, now, "session timeout of member " + id);
  expire_pending_syncs(now);
  maybe_complete_join(now);
  return pending != pending_members_.size() || before != std::tuple(generation_, state_, members_.size());
}

void Group::restore(int32_t generation, std::string protocol_type, std::optional<std::string> protocol_name,
                    std::string leader, std::vector<Member> members, Clock::time_point now) {
  generation_ = generation;
  protocol_type_ = std::move(protocol_type);
  protocol_name_ = std::move(protocol_name);
  members_.clear();
  static_members_.clear();
  pending_members_.clear();
  pending_syncs_.clear();
  for (auto& m : members) {
    reset_session(m, now);
    std::string id = m.id;
    if (m.group_instance_id) static_members_[*m.group_instance_id] = id;
    members_[id] = std::move(m);
  }
  leader_ = members_.count(leader) ? std::move(leader) : std::string();
  if (leader_.empty() && !members_.empty()) leader_ = members_.begin()->first;
  state_ = members_.empty() ? GroupState::Empty : GroupState::Stable;
}

}  // namespace runnel::group
