#include "group/consumer_group.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <set>

#include "group/topic_regex.h"

namespace runnel::group {
namespace {

// Kafka's Uuid.randomUuid().toString(): 16 random bytes, URL-safe base64 without padding.
std::string random_member_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t a = rng(), b = rng();
  uint8_t bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  std::string out;
  for (int i = 0; i < 16; i += 3) {
    uint32_t n = bytes[i] << 16;
    if (i + 1 < 16) n |= bytes[i + 1] << 8;
    if (i + 2 < 16) n |= bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    if (i + 1 < 16) out += kAlphabet[(n >> 6) & 63];
    if (i + 2 < 16) out += kAlphabet[n & 63];
  }
  return out;
}

PersistedAssignment persist(const TopicAssignment& a) {
  PersistedAssignment out;
  for (const auto& [topic, parts] : a) out.emplace_back(topic, std::vector<int32_t>(parts.begin(), parts.end()));
  return out;
}

TopicAssignment restore_assignment(const PersistedAssignment& a) {
  TopicAssignment out;
  for (const auto& [topic, parts] : a)
    if (!parts.empty()) out[topic].insert(parts.begin(), parts.end());
  return out;
}

// The topics a member subscribes to: its names, and the names `all` has that
// its regex matches (internal topics excluded, as Kafka does).
std::set<std::string> topics_of(const ConsumerMember& m, const std::vector<std::string>& all) {
  std::set<std::string> out(m.subscribed_topics.begin(), m.subscribed_topics.end());
  if (m.subscribed_regex) {
    if (auto re = TopicRegex::compile(*m.subscribed_regex)) {
      for (const auto& name : all)
        if (name.rfind("__", 0) != 0 && re->matches(name)) out.insert(name);
    }
  }
  return out;
}

ConsumerHeartbeatResult error_result(ErrorCode e, std::string message) {
  ConsumerHeartbeatResult r;
  r.error = e;
  r.message = std::move(message);
  return r;
}

}  // namespace

std::string new_consumer_member_id() { return random_member_id(); }

std::optional<MigrationPolicy> parse_migration_policy(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "disabled") return MigrationPolicy::Disabled;
  if (lower == "upgrade") return MigrationPolicy::Upgrade;
  if (lower == "downgrade") return MigrationPolicy::Downgrade;
  if (lower == "bidirectional") return MigrationPolicy::Bidirectional;
  return std::nullopt;
}

std::string_view migration_policy_name(MigrationPolicy p) {
  switch (p) {
    case MigrationPolicy::Disabled:
      return "disabled";
    case MigrationPolicy::Upgrade:
      return "upgrade";
    case MigrationPolicy::Downgrade:
      return "downgrade";
    case MigrationPolicy::Bidirectional:
      return "bidirectional";
  }
  return "bidirectional";
}

std::string_view consumer_state_name(ConsumerGroupState s) {
  switch (s) {
    case ConsumerGroupState::Empty:
      return "Empty";
    case ConsumerGroupState::Assigning:
      return "Assigning";
    case ConsumerGroupState::Reconciling:
      return "Reconciling";
    case ConsumerGroupState::Stable:
      return "Stable";
    case ConsumerGroupState::Dead:
      return "Dead";
  }
  return "Unknown";
}

std::pair<ErrorCode, std::string> validate_heartbeat(const ConsumerHeartbeat& r, int16_t api_version,
                                                     const std::vector<std::string>& assignors) {
  auto invalid = [](std::string m) { return std::pair{ErrorCode::INVALID_REQUEST, std::move(m)}; };
  if (r.instance_id && r.instance_id->empty()) return invalid("InstanceId can't be empty.");
  if (r.rack_id && r.rack_id->empty()) return invalid("RackId can't be empty.");
  // v1+: the client generates its member id (KIP-1082).
  if (api_version >= 1 && r.member_id.empty()) return invalid("MemberId can't be empty.");
  if (r.member_epoch > 0 || r.member_epoch == kLeaveEpoch) {
    if (r.member_id.empty()) return invalid("MemberId can't be empty.");
  } else if (r.member_epoch == kJoinEpoch) {
    if (r.rebalance_timeout_ms == -1) return invalid("RebalanceTimeoutMs must be provided in first request.");
    if (!r.owned || !r.owned->empty()) return invalid("TopicPartitions must be empty when (re-)joining.");
    bool no_names = !r.subscribed_topic_names || r.subscribed_topic_names->empty();
    bool no_regex = !r.subscribed_topic_regex || r.subscribed_topic_regex->empty();
    if (no_names && no_regex)
      return invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
  } else if (r.member_epoch == kLeaveStaticEpoch) {
    if (r.member_id.empty()) return invalid("MemberId can't be empty.");
    if (!r.instance_id) return invalid("InstanceId can't be null.");
  } else {
    return invalid("MemberEpoch is invalid.");
  }
  if (r.server_assignor && std::find(assignors.begin(), assignors.end(), *r.server_assignor) == assignors.end()) {
    std::string names;
    for (const auto& a : assignors) names += (names.empty() ? "" : ", ") + a;
    return {ErrorCode::UNSUPPORTED_ASSIGNOR,
            "ServerAssignor " + *r.server_assignor + " is not supported. Supported assignors: " + names + "."};
  }
  if (r.subscribed_topic_regex && !r.subscribed_topic_regex->empty() && !TopicRegex::compile(*r.subscribed_topic_regex))
    return {ErrorCode::INVALID_REGULAR_EXPRESSION,
            "SubscribedTopicRegex `" + *r.subscribed_topic_regex + "` is not a valid regular expression."};
  return {ErrorCode::NONE, ""};
}

ConsumerGroupState ConsumerGroup::state() const {
  if (dead_) return ConsumerGroupState::Dead;
  if (members_.empty()) return ConsumerGroupState::Empty;
  if (group_epoch_ > assignment_epoch_) return ConsumerGroupState::Assigning;
  for (const auto& [_, m] : members_)
    if (m.epoch != assignment_epoch_ || m.state != MemberState::Stable) return ConsumerGroupState::Reconciling;
  return ConsumerGroupState::Stable;
}

const TopicAssignment& ConsumerGroup::target(const std::string& member_id) const {
  static const TopicAssignment kNone;
  auto it = target_.find(member_id);
  return it == target_.end() ? kNone : it->second;
}

std::string ConsumerGroup::assignor() const {
  // Kafka's preferred server assignor: the one most members ask for.
  std::map<std::string, int> votes;
  for (const auto& [_, m] : members_)
    if (m.server_assignor) ++votes[*m.server_assignor];
  std::string best = config_.assignors.empty() ? std::string(kUniformAssignor) : config_.assignors.front();
  int most = 0;
  for (const auto& [name, n] : votes)
    if (n > most) {
      best = name;
      most = n;
    }
  return best;
}

int32_t ConsumerGroup::partition_epoch(const TopicUuid& topic, int32_t partition) const {
  auto it = partition_epochs_.find({topic, partition});
  return it == partition_epochs_.end() ? -1 : it->second;
}

void ConsumerGroup::remove_partition_epochs(const ConsumerMember& m) {
  for (const auto* a : {&m.assigned, &m.pending_revocation})
    for (const auto& [topic, parts] : *a)
      for (int32_t p : parts) partition_epochs_.erase({topic, p});
}

void ConsumerGroup::add_partition_epochs(const ConsumerMember& m) {
  for (const auto* a : {&m.assigned, &m.pending_revocation})
    for (const auto& [topic, parts] : *a)
      for (int32_t p : parts) partition_epochs_[{topic, p}] = m.epoch;
}

void ConsumerGroup::put_member(ConsumerMember member) {
  auto it = members_.find(member.id);
  if (it != members_.end()) remove_partition_epochs(it->second);
  add_partition_epochs(member);
  if (member.instance_id) static_members_[*member.instance_id] = member.id;
  std::string id = member.id;
  members_.insert_or_assign(id, std::move(member));
}

ConsumerMember ConsumerGroup::rename_static_member(std::string old_id, const std::string& new_id, bool restart_epoch) {
  ConsumerMember m = members_.at(old_id);
  remove_partition_epochs(m);
  auto target = target_.extract(old_id);
  members_.erase(old_id);
  m.id = new_id;
  if (restart_epoch) {
    m.epoch = 0;
    m.previous_epoch = 0;
  }
  if (!target.empty()) {
    target.key() = new_id;
    target_.insert(std::move(target));
  }
  put_member(m);  // re-points static_members_ at the new id
  dirty_ = true;
  return m;
}

void ConsumerGroup::fence(const std::string& member_id, std::string_view reason) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  spdlog::info("consumer group {}: member {} removed: {}", id_, member_id, reason);
  remove_partition_epochs(it->second);
  if (it->second.instance_id) {
    auto s = static_members_.find(*it->second.instance_id);
    if (s != static_members_.end() && s->second == member_id) static_members_.erase(s);
  }
  target_.erase(member_id);
  members_.erase(it);
  ++group_epoch_;
  dirty_ = true;
}

std::map<std::string, SubscribedTopic> ConsumerGroup::subscription_metadata(const TopicCatalog& topics,
                                                                            const ConsumerMember* changed) const {
  bool regex = changed && changed->subscribed_regex;
  for (const auto& [_, m] : members_) regex = regex || m.subscribed_regex.has_value();
  std::vector<std::string> all;
  if (regex && topics.names) all = topics.names();
  std::set<std::string> names;
  for (const auto& [id, m] : members_) {
    if (changed && id == changed->id) continue;
    auto t = topics_of(m, all);
    names.insert(t.begin(), t.end());
  }
  if (changed) {
    auto t = topics_of(*changed, all);
    names.insert(t.begin(), t.end());
  }
  std::map<std::string, SubscribedTopic> out;
  for (const auto& name : names)
    if (auto t = topics.find(name)) out[name] = *t;
  return out;
}

void ConsumerGroup::compute_target(const std::map<std::string, SubscribedTopic>& metadata) {
  std::vector<std::string> all;
  for (const auto& [name, _] : metadata) all.push_back(name);  // a regex can only match what is subscribed
  std::vector<AssignorMember> in;
  for (const auto& [id, m] : members_) {
    AssignorMember a;
    a.member_id = id;
    a.instance_id = m.instance_id;
    a.topics = topics_of(m, all);
    a.previous = target(id);
    in.push_back(std::move(a));
  }
  target_ = assign(assignor(), in, metadata);
}

std::pair<ErrorCode, std::string> ConsumerGroup::check_capacity(const std::string& member_id) const {
  // Every member counts, classic ones of a mixed group included. A static
  // member back under a new member id counts as new, as in Kafka 4.0-4.2.
  if (static_cast<int64_t>(members_.size()) < config_.max_size || (!member_id.empty() && members_.count(member_id)))
    return {ErrorCode::NONE, ""};
  return {ErrorCode::GROUP_MAX_SIZE_REACHED,
          "The consumer group has reached its maximum capacity of " + std::to_string(config_.max_size) + " members."};
}

ConsumerHeartbeatResult ConsumerGroup::heartbeat(const ConsumerHeartbeat& req, const TopicCatalog& topics,
                                                 ConsumerClock::time_point now) {
  if (req.member_epoch == kLeaveEpoch || req.member_epoch == kLeaveStaticEpoch) return leave(req);
  // Before the member is looked at, as Kafka: in a full group even an
  // unknown member id gets GROUP_MAX_SIZE_REACHED.
  if (auto [error, message] = check_capacity(req.member_id); error != ErrorCode::NONE)
    return error_result(error, std::move(message));
  const std::string member_id = req.member_id.empty() ? random_member_id() : req.member_id;
  ConsumerMember before;  // the member as it was (empty for a new one)
  bool is_new = false;
  auto fresh = [&] {
    ConsumerMember m;
    m.id = member_id;
    is_new = true;
    return m;
  };
  // Kafka's check of a known member's epoch: ahead is fenced; behind is
  // accepted only as the previous epoch with nothing it does not own
  // (the answer that bumped it may have been lost).
  auto check_epoch = [&](const ConsumerMember& m) -> std::optional<ConsumerHeartbeatResult> {
    if (req.member_epoch > m.epoch)
      return error_result(ErrorCode::FENCED_MEMBER_EPOCH,
                          "The consumer group member has a greater member epoch (" + std::to_string(req.member_epoch) +
                              ") than the one known by the group coordinator (" + std::to_string(m.epoch) +
                              "). The member must abandon all its partitions and rejoin.");
    if (req.member_epoch < m.epoch && (req.member_epoch != m.previous_epoch || !is_subset(req.owned, m.assigned)))
      return error_result(ErrorCode::FENCED_MEMBER_EPOCH,
                          "The consumer group member has a smaller member epoch (" + std::to_string(req.member_epoch) +
                              ") than the one known by the group coordinator (" + std::to_string(m.epoch) +
                              "). The member must abandon all its partitions and rejoin.");
    return std::nullopt;
  };

  auto known = members_.find(member_id);
  if (req.instance_id) {
    auto s = static_members_.find(*req.instance_id);
    ConsumerMember* existing = s == static_members_.end() ? nullptr : &members_.at(s->second);
    if (req.member_epoch == kJoinEpoch) {
      if (!existing || existing->id == member_id) {
        // A member that joins again with its own id gave up what it had
        // (it must join with no partitions): it starts over.
        if (known != members_.end()) fence(member_id, "rejoined with epoch 0");
        before = fresh();
      } else if (existing->epoch != kLeaveStaticEpoch) {
        return error_result(ErrorCode::UNRELEASED_INSTANCE_ID,
                            "Static member " + member_id + " with instance id " + *req.instance_id +
                                " cannot join the group because the instance id is owned by " + existing->id +
                                " member.");
      } else {
        // The static member is back under a new member id: it takes over
        // the old one's assignment, without a new group epoch.
        before = rename_static_member(existing->id, member_id, /*restart_epoch=*/true);
        spdlog::info("consumer group {}: static member {} is back as {}", id_, *req.instance_id, member_id);
      }
    } else {
      if (!existing)
        return error_result(ErrorCode::UNKNOWN_MEMBER_ID, "Instance id " + *req.instance_id + " is unknown.");
      if (existing->id != member_id)
        return error_result(ErrorCode::FENCED_INSTANCE_ID, "Static member " + member_id + " with instance id " +
                                                               *req.instance_id + " was fenced by member " +
                                                               existing->id + ".");
      if (auto e = check_epoch(*existing)) return *e;
      before = *existing;
    }
  } else if (known == members_.end()) {
    if (req.member_epoch != kJoinEpoch)
      return error_result(ErrorCode::UNKNOWN_MEMBER_ID,
                          "Member " + member_id + " is not a member of group " + id_ + ".");
    before = fresh();
  } else if (req.member_epoch == kJoinEpoch) {
    fence(member_id, "rejoined with epoch 0");
    before = fresh();
  } else {
    if (auto e = check_epoch(known->second)) return *e;
    before = known->second;
  }

  // 1. The member's new subscription and properties.
  ConsumerMember updated = before;
  if (req.instance_id) updated.instance_id = req.instance_id;
  if (req.rack_id) updated.rack_id = req.rack_id;
  if (req.rebalance_timeout_ms != -1) updated.rebalance_timeout_ms = req.rebalance_timeout_ms;
  if (req.server_assignor) updated.server_assignor = req.server_assignor;
  if (req.subscribed_topic_names) {
    std::set<std::string> unique(req.subscribed_topic_names->begin(), req.subscribed_topic_names->end());
    updated.subscribed_topics.assign(unique.begin(), unique.end());
  }
  if (req.subscribed_topic_regex) {
    updated.subscribed_regex = req.subscribed_topic_regex->empty() ? std::nullopt : req.subscribed_topic_regex;
  }
  updated.client_id = req.client_id;
  updated.client_host = req.client_host;
  bool bump = is_new || updated.subscribed_topics != before.subscribed_topics ||
              updated.subscribed_regex != before.subscribed_regex;
  if (is_new || !updated.same_state(before)) dirty_ = true;
  update_and_reconcile(std::move(updated), bump, topics, req.owned, now);

  ConsumerMember& after = members_.at(member_id);
  ConsumerHeartbeatResult result;
  result.member_id = member_id;
  result.member_epoch = after.epoch;
  result.heartbeat_interval_ms = config_.heartbeat_interval_ms;
  // The assignment goes out on a full request (a join, or a client that
  // resent everything after an error) and whenever it changed.
  bool full = req.member_epoch == kJoinEpoch ||
              (req.rebalance_timeout_ms != -1 && req.subscribed_topic_names.has_value() && req.owned.has_value());
  if (full || after.assigned != before.assigned) result.assignment = after.assigned;
  return result;
}

void ConsumerGroup::update_and_reconcile(ConsumerMember updated, bool bump, const TopicCatalog& topics,
                                         const std::optional<TopicAssignment>& owned, ConsumerClock::time_point now) {
  const std::string member_id = updated.id;
  // 2. A new group epoch when the subscriptions or their topics changed.
  auto metadata = subscription_metadata(topics, &updated);
  if (metadata_known_ && metadata != metadata_) bump = true;
  metadata_ = std::move(metadata);
  metadata_known_ = true;
  if (bump) {
    ++group_epoch_;
    dirty_ = true;
  }
  put_member(updated);

  // 3. A new target assignment for the new epoch.
  if (group_epoch_ > assignment_epoch_) {
    compute_target(metadata_);
    assignment_epoch_ = group_epoch_;
    dirty_ = true;
    spdlog::info("consumer group {}: epoch {}, target assignment computed for {} members ({})", id_, group_epoch_,
                 members_.size(), assignor());
  }

  // 4. The member one step closer to its target.
  ConsumerMember& current = members_.at(member_id);
  if (!(current.state == MemberState::Stable && current.epoch == assignment_epoch_)) {
    auto epoch_of = [this](const TopicUuid& t, int32_t p) { return partition_epoch(t, p); };
    ConsumerMember next = reconcile(current, assignment_epoch_, target(member_id), epoch_of, owned);
    if (!next.same_state(current)) {
      if (next.state == MemberState::UnrevokedPartitions && current.state != MemberState::UnrevokedPartitions) {
        int32_t timeout = next.rebalance_timeout_ms > 0 ? next.rebalance_timeout_ms : config_.session_timeout_ms;
        next.rebalance_deadline = now + std::chrono::milliseconds(timeout);
      }
      put_member(std::move(next));
      dirty_ = true;
    }
  }
  ConsumerMember& after = members_.at(member_id);
  after.session_deadline = now + session_timeout(after);
}

ConsumerClock::duration ConsumerGroup::session_timeout(const ConsumerMember& m) const {
  // A classic member's session is the one of its JoinGroup.
  int32_t ms =
      m.classic && m.classic->session_timeout_ms > 0 ? m.classic->session_timeout_ms : config_.session_timeout_ms;
  return std::chrono::milliseconds(ms);
}

bool ConsumerGroup::only_classic_members() const {
  if (members_.empty()) return false;
  for (const auto& [_, m] : members_)
    if (!m.classic) return false;
  return true;
}

bool ConsumerGroup::static_member_uses_consumer_protocol(const std::string& instance_id) const {
  auto s = static_members_.find(instance_id);
  if (s == static_members_.end()) return false;
  auto m = members_.find(s->second);
  return m != members_.end() && !m->second.classic;
}

void ConsumerGroup::adopt(ConsumerMember member, TopicAssignment target, ConsumerClock::time_point now) {
  member.session_deadline = now + session_timeout(member);
  int32_t timeout = member.rebalance_timeout_ms > 0 ? member.rebalance_timeout_ms : config_.session_timeout_ms;
  member.rebalance_deadline = now + std::chrono::milliseconds(timeout);
  // A classic member's deadline is its join or sync timeout: none running.
  if (member.classic) member.rebalance_deadline = {};
  if (!target.empty()) target_[member.id] = std::move(target);
  put_member(std::move(member));
  dirty_ = true;
}

void ConsumerGroup::set_epochs(int32_t group_epoch, int32_t assignment_epoch) {
  group_epoch_ = group_epoch;
  assignment_epoch_ = assignment_epoch;
  dirty_ = true;
}

ConsumerHeartbeatResult ConsumerGroup::leave(const ConsumerHeartbeat& req) {
  ConsumerHeartbeatResult result;
  result.member_id = req.member_id;
  result.member_epoch = req.member_epoch;
  if (!req.instance_id) {
    if (!members_.count(req.member_id))
      return error_result(ErrorCode::UNKNOWN_MEMBER_ID,
                          "Member " + req.member_id + " is not a member of group " + id_ + ".");
    fence(req.member_id, "left the group");
    return result;
  }
  auto s = static_members_.find(*req.instance_id);
  if (s == static_members_.end())
    return error_result(ErrorCode::UNKNOWN_MEMBER_ID, "Instance id " + *req.instance_id + " is unknown.");
  if (s->second != req.member_id)
    return error_result(ErrorCode::FENCED_INSTANCE_ID, "Static member " + req.member_id + " with instance id " +
                                                           *req.instance_id + " was fenced by member " + s->second +
                                                           ".");
  if (req.member_epoch == kLeaveStaticEpoch) {
    // Gone for now, back within its session: it keeps its partitions.
    ConsumerMember m = members_.at(req.member_id);
    m.epoch = kLeaveStaticEpoch;
    m.pending_revocation.clear();
    put_member(std::move(m));
    dirty_ = true;
    spdlog::info("consumer group {}: static member {} left for now", id_, *req.instance_id);
    return result;
  }
  fence(req.member_id, "left the group");
  return result;
}

bool ConsumerGroup::tick(ConsumerClock::time_point now) {
  std::vector<std::pair<std::string, std::string_view>> expired;
  for (const auto& [id, m] : members_) {
    if (now >= m.session_deadline)
      expired.emplace_back(id, "its session expired");
    else if (m.classic && m.rebalance_deadline != ConsumerClock::time_point{} && now >= m.rebalance_deadline)
      // Kafka's join and sync timeouts for classic members.
      expired.emplace_back(id, "it did not rejoin or sync within its rebalance timeout");
    else if (!m.classic && m.state == MemberState::UnrevokedPartitions && now >= m.rebalance_deadline)
      expired.emplace_back(id, "it did not revoke its partitions within its rebalance timeout");
  }
  for (const auto& [id, why] : expired) fence(id, why);
  return !expired.empty();
}

ErrorCode ConsumerGroup::validate_commit(const std::string& member_id, int32_t member_epoch, int16_t api_version,
                                         bool transactional) const {
  if (member_epoch < 0 && members_.empty()) return ErrorCode::NONE;
  auto it = members_.find(member_id);
  if (it == members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
  // A classic member commits with its generation (the member epoch), at any
  // version; a consumer-protocol member needs v9 (Kafka's validateOffsetCommit).
  if (it->second.classic) return member_epoch == it->second.epoch ? ErrorCode::NONE : ErrorCode::ILLEGAL_GENERATION;
  if (!transactional && api_version < 9) return ErrorCode::UNSUPPORTED_VERSION;
  if (member_epoch != it->second.epoch) return ErrorCode::STALE_MEMBER_EPOCH;
  return ErrorCode::NONE;
}

ErrorCode ConsumerGroup::validate_fetch(const std::optional<std::string>& member_id, int32_t member_epoch) const {
  if (!member_id && member_epoch < 0) return ErrorCode::NONE;
  auto it = members_.find(member_id.value_or(""));
  if (it == members_.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (member_epoch != it->second.epoch)
    return it->second.classic ? ErrorCode::ILLEGAL_GENERATION : ErrorCode::STALE_MEMBER_EPOCH;
  return ErrorCode::NONE;
}

std::vector<std::string> ConsumerGroup::subscribed_topic_names() const {
  std::set<std::string> names;
  for (const auto& [_, m] : members_) names.insert(m.subscribed_topics.begin(), m.subscribed_topics.end());
  for (const auto& [name, _] : metadata_) names.insert(name);  // regex matches included
  return {names.begin(), names.end()};
}

ConsumerGroupValue ConsumerGroup::snapshot() const {
  ConsumerGroupValue v;
  v.group_epoch = group_epoch_;
  v.assignment_epoch = assignment_epoch_;
  for (const auto& [id, m] : members_) {
    ConsumerMemberValue mv;
    mv.member_id = id;
    mv.instance_id = m.instance_id;
    mv.rack_id = m.rack_id;
    mv.client_id = m.client_id;
    mv.client_host = m.client_host;
    mv.rebalance_timeout_ms = m.rebalance_timeout_ms;
    mv.subscribed_topics = m.subscribed_topics;
    mv.subscribed_regex = m.subscribed_regex;
    mv.server_assignor = m.server_assignor;
    mv.member_epoch = m.epoch;
    mv.previous_member_epoch = m.previous_epoch;
    mv.state = static_cast<int8_t>(m.state);
    mv.assigned = persist(m.assigned);
    mv.pending_revocation = persist(m.pending_revocation);
    mv.target = persist(target(id));
    if (m.classic) {
      auto& c = mv.classic.emplace();
      c.session_timeout_ms = m.classic->session_timeout_ms;
      for (const auto& p : m.classic->protocols) c.protocols.emplace_back(p.name, p.metadata);
    }
    v.members.push_back(std::move(mv));
  }
  return v;
}

void ConsumerGroup::restore(const ConsumerGroupValue& v, ConsumerClock::time_point now) {
  group_epoch_ = v.group_epoch;
  assignment_epoch_ = v.assignment_epoch;
  members_.clear();
  static_members_.clear();
  target_.clear();
  partition_epochs_.clear();
  metadata_.clear();
  metadata_known_ = false;  // the first heartbeat learns it without a new epoch
  for (const auto& mv : v.members) {
    ConsumerMember m;
    m.id = mv.member_id;
    m.instance_id = mv.instance_id;
    m.rack_id = mv.rack_id;
    m.client_id = mv.client_id;
    m.client_host = mv.client_host;
    m.rebalance_timeout_ms = mv.rebalance_timeout_ms;
    m.subscribed_topics = mv.subscribed_topics;
    m.subscribed_regex = mv.subscribed_regex;
    m.server_assignor = mv.server_assignor;
    m.epoch = mv.member_epoch;
    m.previous_epoch = mv.previous_member_epoch;
    m.state = mv.state >= 0 && mv.state <= 2 ? static_cast<MemberState>(mv.state) : MemberState::Stable;
    m.assigned = restore_assignment(mv.assigned);
    m.pending_revocation = restore_assignment(mv.pending_revocation);
    if (mv.classic) {
      auto& c = m.classic.emplace();
      c.session_timeout_ms = mv.classic->session_timeout_ms;
      for (const auto& [name, metadata] : mv.classic->protocols) c.protocols.push_back({name, metadata});
    }
    m.session_deadline = now + session_timeout(m);
    int32_t timeout = m.rebalance_timeout_ms > 0 ? m.rebalance_timeout_ms : config_.session_timeout_ms;
    m.rebalance_deadline = now + std::chrono::milliseconds(timeout);
    if (m.classic) m.rebalance_deadline = {};  // no join or sync timeout running
    auto t = restore_assignment(mv.target);
    if (!t.empty()) target_[m.id] = std::move(t);
    put_member(std::move(m));
  }
  dirty_ = false;
}

}  // namespace runnel::group
