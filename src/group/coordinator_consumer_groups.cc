// The group coordinator's KIP-848 consumer groups: their heartbeat, their
// records in __consumer_offsets, and the conversion between a classic group
// and a consumer group (upgrade on the first ConsumerGroupHeartbeat,
// downgrade when the last new-protocol member leaves).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "group/consumer_group_records.h"
#include "group/coordinator.h"
#include "group/group_conversion.h"

namespace runnel::group {

ConsumerGroup* Coordinator::upgrade(const std::string& group_id, const std::string& member_id, ErrorCode& error,
                                    std::string& message) {
  // Kafka's validateOnlineUpgrade, then convertToConsumerGroup.
  error = ErrorCode::GROUP_ID_NOT_FOUND;
  message = "Group " + group_id + " is not a consumer group";
  Group* classic = find(group_id);
  if (!classic) return nullptr;
  if (!upgrade_enabled(consumer_config_.migration_policy)) {
    spdlog::info("group {}: cannot upgrade to a consumer group, the online upgrade is disabled", group_id);
    return nullptr;
  }
  if (classic->protocol_type() != "consumer") {
    spdlog::info("group {}: cannot upgrade to a consumer group, it does not use the consumer protocol", group_id);
    return nullptr;
  }
  if (static_cast<int64_t>(classic->members().size()) > consumer_config_.max_size) {
    spdlog::info("group {}: cannot upgrade to a consumer group, its size exceeds group.consumer.max.size", group_id);
    return nullptr;
  }
  auto converted = consumer_group_from_classic(*classic, consumer_config_for(group_id), catalog_, Clock::now());
  if (!converted) {
    message = "Cannot upgrade the classic group " + group_id +
              " to consumer group because the embedded consumer protocol is malformed.";
    spdlog::info("group {}: {}", group_id, message);
    return nullptr;
  }
  // Kafka converts, then finds the group full and undoes the conversion:
  // a group already at group.consumer.max.size stays classic.
  if (auto [full, why] = converted->check_capacity(member_id); full != ErrorCode::NONE) {
    error = full;
    message = std::move(why);
    return nullptr;
  }
  // The classic group's record goes (a tombstone, its offsets stay); the
  // consumer group's follows when the joining member is persisted.
  protocol::Record tombstone;
  tombstone.key = encode_key(GroupKey{group_id});
  (void)append(group_id, {tombstone});
  auto old = std::move(groups_[group_id]);
  groups_.erase(group_id);
  empty_since_ms_.erase(group_id);
  ConsumerGroup* g = converted.get();
  consumer_groups_[group_id] = std::move(converted);
  spdlog::info("group {}: upgraded from classic to consumer group at epoch {} with {} members", group_id,
               g->group_epoch(), g->members().size());
  // Members waiting in JoinGroup or SyncGroup rejoin, into the consumer group.
  old->unload(ErrorCode::REBALANCE_IN_PROGRESS);
  return g;
}

std::optional<int64_t> Coordinator::maybe_downgrade(const std::string& group_id, DowngradeCause cause) {
  ConsumerGroup* cg = find_consumer(group_id);
  if (!cg || !cg->only_classic_members()) return std::nullopt;
  if (!downgrade_enabled(consumer_config_.migration_policy)) {
    spdlog::info("consumer group {}: cannot downgrade to a classic group, the online downgrade is disabled", group_id);
    return std::nullopt;
  }
  if (static_cast<int64_t>(cg->members().size()) > limits_.max_size) {
    spdlog::info("consumer group {}: cannot downgrade to a classic group, its size exceeds group.max.size", group_id);
    return std::nullopt;
  }
  auto image = classic_group_from_consumer(*cg, catalog_);
  if (!image) return std::nullopt;
  (void)append(group_id, consumer_group_deletion(group_id));
  cg->mark_dead();
  consumer_groups_.erase(group_id);
  Group& g = get_or_create(group_id);
  auto now = Clock::now();
  g.restore(image->generation, "consumer", image->protocol, "", std::move(image->members), now);
  g.mark_dirty();
  auto written = persist_if_dirty(g);
  if (cause == DowngradeCause::MemberLeft) g.rebalance(now, "downgrade from consumer to classic group");
  spdlog::info("consumer group {}: downgraded to a classic group at generation {} with {} members", group_id,
               g.generation(), g.members().size());
  return written.value_or(-1);
}

ConsumerGroup* Coordinator::find_consumer(const std::string& group_id) {
  auto it = consumer_groups_.find(group_id);
  return it == consumer_groups_.end() ? nullptr : it->second.get();
}

const ConsumerGroup* Coordinator::consumer_group(const std::string& group_id) const {
  auto it = consumer_groups_.find(group_id);
  return it == consumer_groups_.end() ? nullptr : it->second.get();
}

namespace {
std::vector<protocol::Record> as_log_records(std::vector<KeyedRecord> keyed) {
  std::vector<protocol::Record> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) {
    auto& r = out.emplace_back();
    r.key = std::move(k.key);
    r.value = std::move(k.value);
  }
  return out;
}
}  // namespace

std::optional<int64_t> Coordinator::persist_if_dirty(ConsumerGroup& g) {
  if (!g.take_dirty()) return std::nullopt;
  auto after = g.snapshot();
  std::vector<protocol::Record> records;
  const ConsumerGroupValue* before = nullptr;
  if (auto it = persisted_consumer_groups_.find(g.id()); it != persisted_consumer_groups_.end()) {
    if (it->second.legacy) {
      // The v1000 record goes; Kafka's records replace it whole, in the
      // same batch, so a replay never sees the group half written.
      auto& legacy = records.emplace_back();
      legacy.key = encode_key(ConsumerGroupKey{g.id()});
    } else {
      before = &it->second.value;
    }
  }
  auto changes = as_log_records(consumer_group_changes(g.id(), before, after));
  records.insert(records.end(), std::make_move_iterator(changes.begin()), std::make_move_iterator(changes.end()));
  if (records.empty()) return std::nullopt;
  int64_t last = append(g.id(), records);
  // The next change is written against what the log holds: after a failed
  // append, still the state before this one.
  if (last >= 0) persisted_consumer_groups_[g.id()] = {std::move(after), false};
  return last;
}

std::vector<protocol::Record> Coordinator::consumer_group_deletion(const std::string& group_id) {
  auto it = persisted_consumer_groups_.find(group_id);
  if (it == persisted_consumer_groups_.end()) return {};
  std::vector<protocol::Record> records;
  if (it->second.legacy) {
    auto& legacy = records.emplace_back();
    legacy.key = encode_key(ConsumerGroupKey{group_id});
  } else {
    records = as_log_records(consumer_group_tombstones(group_id, it->second.value));
  }
  persisted_consumer_groups_.erase(it);
  return records;
}

void Coordinator::drop_consumer_group(const std::string& group_id) {
  if (auto records = consumer_group_deletion(group_id); !records.empty()) (void)append(group_id, records);
  if (auto* g = find_consumer(group_id)) g->mark_dead();
  consumer_groups_.erase(group_id);
}

ConsumerGroupConfig Coordinator::consumer_config_for(const std::string& group_id) const {
  ConsumerGroupConfig config = consumer_config_;
  if (group_timeouts_) config.set_timeouts(group_timeouts_->of(group_id));
  return config;
}

asio::awaitable<ConsumerHeartbeatResult> Coordinator::consumer_heartbeat(const std::string& group_id,
                                                                         const ConsumerHeartbeat& request,
                                                                         const TopicCatalog& topics) {
  auto fail = [](ErrorCode e, std::string message) {
    ConsumerHeartbeatResult r;
    r.error = e;
    r.message = std::move(message);
    return r;
  };
  if (!catalog_.find) catalog_ = topics;
  if (Group* classic = find(group_id); classic && classic->state() != GroupState::Dead) {
    // Kafka's getOrMaybeCreateConsumerGroup: an empty classic group is
    // deleted (its offsets stay) so that the consumer group takes its place;
    // one with members is upgraded when the policy allows it.
    if (request.member_epoch != kJoinEpoch)
      co_return fail(ErrorCode::GROUP_ID_NOT_FOUND, "Group " + group_id + " is not a consumer group");
    if (classic->state() == GroupState::Empty) {
      protocol::Record tombstone;
      tombstone.key = encode_key(GroupKey{group_id});
      (void)append(group_id, {tombstone});
      classic->mark_dead();
      groups_.erase(group_id);
      empty_since_ms_.erase(group_id);
    } else {
      ErrorCode error = ErrorCode::NONE;
      std::string message;
      if (!upgrade(group_id, request.member_id, error, message)) co_return fail(error, message);
    }
  }
  ConsumerGroup* g = find_consumer(group_id);
  if (!g) {
    if (request.member_epoch != kJoinEpoch)
      co_return fail(ErrorCode::GROUP_ID_NOT_FOUND, request.member_epoch < 0
                                                        ? "Group " + group_id + " not found."
                                                        : "Consumer group " + group_id + " not found.");
    auto made = std::make_unique<ConsumerGroup>(group_id, consumer_config_for(group_id));
    g = made.get();
    consumer_groups_[group_id] = std::move(made);
  } else if (group_timeouts_) {
    g->set_timeouts(group_timeouts_->of(group_id));  // its configs may have changed since
  }
  auto result = g->heartbeat(request, topics, Clock::now());
  auto written = persist_if_dirty(*g);
  // The last consumer-protocol member left: the classic members carry on in
  // a classic group (Kafka's consumerGroupFenceMember).
  if (request.member_epoch < 0 && result.error == ErrorCode::NONE) {
    if (auto downgraded = maybe_downgrade(group_id)) written = downgraded;
  }
  // As Kafka answers once the group's records are committed: a member never
  // acts on an assignment that a failover could take back.
  if (written) {
    bool durable = false;
    if (*written >= 0) durable = co_await wait_durable(group_id, *written);
    if (!durable && result.error == ErrorCode::NONE)
      co_return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE, "The group's state could not be written.");
  }
  co_return result;
}

void Coordinator::restore_consumer_groups(int32_t partition_index) {
  for (const auto& [id, persisted] : persisted_consumer_groups_) {
    if (offsets_partition_for(id, offsets_partitions_) != partition_index) continue;
    auto& slot = consumer_groups_[id];
    slot = std::make_unique<ConsumerGroup>(id, consumer_config_for(id));
    slot->restore(persisted.value, Clock::now());
    if (persisted.value.members.empty())
      empty_since_ms_.try_emplace(id, wall_clock_ms());
    else
      empty_since_ms_.erase(id);
  }
}

}  // namespace runnel::group
