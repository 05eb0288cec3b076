#include "group/coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/await_callback.h"
#include "base/clock.h"
#include "base/crc32c.h"
#include "base/endian.h"
#include "cluster/batch_replay.h"
#include "group/consumer_group_records.h"
#include "group/group_conversion.h"
#include "protocol/reader.h"

namespace runnel::group {
namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(100);
constexpr uint16_t kTransactionalFlag = 0x10;
constexpr uint16_t kControlFlag = 0x20;

// Makes a batch built by build_record_batch the producer's transactional
// batch (Kafka's coordinator appends TxnOffsetCommit records this way), and
// seals it with its CRC again.
void make_transactional(std::vector<uint8_t>& batch, int64_t producer_id, int16_t producer_epoch,
                        int32_t base_sequence) {
  store_be16(batch.data() + 21, static_cast<uint16_t>(load_be16(batch.data() + 21) | kTransactionalFlag));
  store_be64(batch.data() + 43, static_cast<uint64_t>(producer_id));
  store_be16(batch.data() + 51, static_cast<uint16_t>(producer_epoch));
  store_be32(batch.data() + 53, static_cast<uint32_t>(base_sequence));
  store_be32(batch.data() + 17, crc32c(std::span<const uint8_t>(batch).subspan(21)));
}

}  // namespace

int32_t offsets_partition_for(const std::string& group_id, int32_t partitions) {
  // Java's String.hashCode over UTF-16 code units; group ids are nearly always
  // ASCII, for which bytes and code units agree.
  int32_t h = 0;
  for (unsigned char c : group_id) h = static_cast<int32_t>(31u * static_cast<uint32_t>(h) + c);
  return (h & 0x7fffffff) % partitions;
}

namespace {
// offsets.commit.timeout.ms, Kafka's default.
constexpr int64_t kCommitTimeoutMs = 5000;
}  // namespace

Coordinator::Coordinator(asio::io_context& io, GroupLimits limits, int64_t max_metadata_bytes,
                         std::function<cluster::Partition*(int32_t)> offsets_partition, int32_t offsets_partitions,
                         int64_t compaction_min_records)
    : io_(io),
      limits_(limits),
      max_metadata_bytes_(max_metadata_bytes),
      offsets_partition_(std::move(offsets_partition)),
      offsets_partitions_(offsets_partitions),
      compaction_min_records_(compaction_min_records),
      tick_timer_(io) {}

void Coordinator::start() {
  // The first retention check one interval from now, not at once: a broker
  // that starts does not delete, before anyone could use them again, the
  // empty groups it has just loaded.
  last_retention_check_ms_ = wall_clock_ms();
  schedule_tick();
}

void Coordinator::stop() {
  stopped_ = true;
  tick_timer_.cancel();
}

void Coordinator::schedule_tick() {
  if (stopped_) return;
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    auto now = Clock::now();
    for (auto& [_, g] : groups_) {
      g->tick(now);
      persist_if_dirty(*g);
    }
    std::vector<std::string> fenced;
    for (auto& [id, g] : consumer_groups_) {
      if (g->tick(now)) fenced.push_back(id);
      (void)persist_if_dirty(*g);  // not led here any more: the next coordinator fences them again
    }
    for (const auto& id : fenced) (void)maybe_downgrade(id);
    int64_t now_ms = wall_clock_ms();
    track_empty_groups(now_ms);
    if (now_ms - last_retention_check_ms_ >= retention_check_interval_ms_) {
      last_retention_check_ms_ = now_ms;
      expire_offsets(now_ms);
    }
    maybe_compact();
    schedule_tick();
  });
}

Group* Coordinator::find(const std::string& group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

const Group* Coordinator::find(const std::string& group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

Group& Coordinator::get_or_create(const std::string& group_id) {
  auto& slot = groups_[group_id];
  if (!slot || slot->state() == GroupState::Dead) slot = std::make_unique<Group>(group_id, limits_);
  return *slot;
}

int64_t Coordinator::append(const std::string& group_id, const std::vector<protocol::Record>& records) {
  int32_t p = offsets_partition_for(group_id, offsets_partitions_);
  int64_t last = append_batch(p, records);
  if (last < 0) return -1;
  for (const auto& r : records)
    if (r.key) track(p, *r.key, r.value);
  return last;
}

int64_t Coordinator::append_batch(int32_t p, const std::vector<protocol::Record>& records) {
  auto* partition = offsets_partition_(p);
  if (!partition) return -1;
  auto batch = protocol::build_record_batch(records, wall_clock_ms());
  auto result = partition->append(batch, wall_clock_ms());
  if (result.error != ErrorCode::NONE) {
    spdlog::error("writing to {}-{} failed: {}", kOffsetsTopic, p, error_name(result.error));
    return -1;
  }
  return result.last_offset;
}

Coordinator::OffsetsLogState& Coordinator::log_state(int32_t p) {
  auto& state = log_state_[p];
  if (!state) state = std::make_shared<OffsetsLogState>();
  return *state;
}

void Coordinator::track(int32_t p, std::span<const uint8_t> key, const std::optional<std::vector<uint8_t>>& value) {
  auto& state = log_state(p);
  ++state.records;
  std::vector<uint8_t> k(key.begin(), key.end());
  if (value)
    state.latest[std::move(k)] = *value;
  else
    state.latest.erase(k);
}

void Coordinator::maybe_compact() {
  for (auto& [p, shared] : log_state_) {
    auto& state = *shared;
    int64_t live = static_cast<int64_t>(state.latest.size());
    int64_t superseded = state.records - live;
    if (state.compacting || superseded < std::max(live, compaction_min_records_)) continue;
    // A snapshot would move the log start past transactional offsets whose
    // marker has not come yet: they would be lost at the next load.
    if (has_pending_txn(p)) continue;
    state.compacting = true;
    asio::co_spawn(io_, compact(p), asio::detached);
  }
}

asio::awaitable<void> Coordinator::compact(int32_t p) {
  auto* partition = offsets_partition_(p);
  log_state(p);
  std::shared_ptr<OffsetsLogState> held = log_state_[p];  // survives an unload meanwhile
  auto& state = *held;
  if (!partition || stopped_) {
    state.compacting = false;
    co_return;
  }
  // Everything below `first` is superseded by the snapshot, or by records
  // after it. The snapshot is built and appended without suspending, so no
  // write can slip in between.
  constexpr size_t kSnapshotBatchBytes = 256 * 1024;
  int64_t first = partition->log_end_offset().value();
  int64_t last = first - 1;
  bool ok = true;
  std::vector<protocol::Record> batch;
  size_t batch_bytes = 0;
  auto flush = [&] {
    if (batch.empty() || !ok) return;
    int64_t appended = append_batch(p, batch);  // not tracked: the snapshot supersedes nothing live
    ok = appended >= 0;
    if (ok) last = appended;
    batch.clear();
    batch_bytes = 0;
  };
  for (const auto& [key, value] : state.latest) {
    protocol::Record r;
    r.key = key;
    r.value = value;
    batch_bytes += key.size() + value.size() + 32;
    batch.push_back(std::move(r));
    if (batch_bytes >= kSnapshotBatchBytes) flush();
  }
  flush();
  int64_t before = state.records;
  state.records = static_cast<int64_t>(state.latest.size());
  bool durable = false;
  if (ok && last >= 0)
    durable = co_await partition->wait_acknowledged(Offset(last), kCommitTimeoutMs) == ErrorCode::NONE;
  partition = offsets_partition_(p);  // looked up again: time passed
  if (!durable || !partition) {
    state.records += before;  // nothing was dropped; try again later
    state.compacting = false;
    co_return;
  }
  int64_t start = partition->delete_records_before(Offset(first)).value();
  spdlog::info("compacted {}-{}: {} live records kept, {} superseded dropped, log start {}", kOffsetsTopic, p,
               state.latest.size(), before - static_cast<int64_t>(state.latest.size()), start);
  state.compacting = false;
}

asio::awaitable<bool> Coordinator::wait_durable(const std::string& group_id, int64_t offset) {
  auto* partition = offsets_partition_(offsets_partition_for(group_id, offsets_partitions_));
  if (!partition || offset < 0) co_return false;
  // As Kafka's coordinator appends with acks=all: in a cluster a commit is
  // answered once the offsets partition's whole ISR has it on disk.
  co_return co_await partition->wait_acknowledged(Offset(offset), kCommitTimeoutMs) == ErrorCode::NONE;
}

std::optional<int64_t> Coordinator::persist_if_dirty(Group& g) {
  if (!g.take_dirty()) return std::nullopt;
  GroupValue v;
  v.protocol_type = g.protocol_type();
  v.generation = g.generation();
  v.protocol = g.protocol_name();
  if (!g.leader().empty()) v.leader = g.leader();
  v.state_timestamp = wall_clock_ms();
  if (g.state() == GroupState::Stable) {
    // Kafka stores members only with their assignment; a group caught
    // between generations comes back Empty and its members rejoin.
    for (const auto& [id, m] : g.members()) {
      GroupMemberValue mv;
      mv.member_id = id;
      mv.group_instance_id = m.group_instance_id;
      mv.client_id = m.client_id;
      mv.client_host = m.client_host;
      mv.rebalance_timeout_ms = m.rebalance_timeout_ms;
      mv.session_timeout_ms = m.session_timeout_ms;
      mv.subscription = g.member_metadata(m);
      mv.assignment = m.assignment;
      v.members.push_back(std::move(mv));
    }
  }
  protocol::Record r;
  r.key = encode_key(GroupKey{g.id()});
  r.value = encode_value(v);
  return append(g.id(), {r});
}

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

bool Coordinator::has_group(const std::string& group_id) const {
  const Group* g = find(group_id);
  return (g && g->state() != GroupState::Dead) || consumer_groups_.count(group_id) || offsets_.count(group_id);
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

ErrorCode Coordinator::validate_offset_fetch(const std::string& group_id, const std::optional<std::string>& member_id,
                                             int32_t member_epoch) const {
  const ConsumerGroup* g = consumer_group(group_id);
  return g ? g->validate_fetch(member_id, member_epoch) : ErrorCode::NONE;
}

void Coordinator::apply(std::span<const uint8_t> key_bytes, const std::optional<std::vector<uint8_t>>& value) {
  auto key = decode_key(key_bytes);
  // A consumer group's records build its image; the group itself is made
  // from it once the partition is loaded (restore_consumer_groups).
  if (auto* k = std::get_if<ConsumerGroupRecordKey>(&key)) {
    std::optional<ConsumerGroupValue> image;
    bool legacy = false;
    if (auto it = persisted_consumer_groups_.find(k->group); it != persisted_consumer_groups_.end()) {
      image = std::move(it->second.value);
      legacy = it->second.legacy;
    }
    std::optional<std::span<const uint8_t>> bytes;
    if (value) bytes = std::span<const uint8_t>(*value);
    apply_consumer_group_record(*k, bytes, image);
    if (image)
      persisted_consumer_groups_[k->group] = {std::move(*image), legacy};
    else
      persisted_consumer_groups_.erase(k->group);
    if (value) groups_.erase(k->group);
    return;
  }
  if (auto* k = std::get_if<ConsumerGroupKey>(&key)) {
    if (value) {
      persisted_consumer_groups_[k->group] = {decode_consumer_group_value(*value), true};
      groups_.erase(k->group);
    } else {
      persisted_consumer_groups_.erase(k->group);
    }
    return;
  }
  if (auto* k = std::get_if<OffsetKey>(&key)) {
    auto tp = std::pair{k->topic, k->partition};
    if (value)
      offsets_[k->group][tp] = decode_offset_value(*value);
    else
      offsets_[k->group].erase(tp);
  } else if (auto* k = std::get_if<GroupKey>(&key)) {
    if (value) {
      auto v = decode_group_value(*value);
      std::vector<Member> members;
      for (auto& mv : v.members) {
        Member m;
        m.id = mv.member_id;
        m.group_instance_id = mv.group_instance_id;
        m.client_id = mv.client_id;
        m.client_host = mv.client_host;
        m.rebalance_timeout_ms = mv.rebalance_timeout_ms;
        m.session_timeout_ms = mv.session_timeout_ms;
        m.protocol_type = v.protocol_type;
        if (v.protocol) m.protocols.push_back(Protocol{*v.protocol, std::move(mv.subscription)});
        m.assignment = std::move(mv.assignment);
        members.push_back(std::move(m));
      }
      // An empty group emptied when this state was written (its timestamp).
      if (members.empty() && v.state_timestamp > 0)
        empty_since_ms_[k->group] = v.state_timestamp;
      else
        empty_since_ms_.erase(k->group);
      consumer_groups_.erase(k->group);
      persisted_consumer_groups_.erase(k->group);
      get_or_create(k->group).restore(v.generation, v.protocol_type, v.protocol, v.leader.value_or(""),
                                      std::move(members), Clock::now());
    } else {
      // The group's record alone: its offsets are records of their own,
      // tombstoned one by one when they go (a group that converts to a
      // consumer group keeps them).
      groups_.erase(k->group);
      empty_since_ms_.erase(k->group);
      if (auto it = offsets_.find(k->group); it != offsets_.end() && it->second.empty()) offsets_.erase(it);
    }
  }
}

void Coordinator::unload(int32_t partition_index) {
  std::vector<std::unique_ptr<Group>> gone;
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (offsets_partition_for(it->first, offsets_partitions_) == partition_index) {
      gone.push_back(std::move(it->second));
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::unique_ptr<ConsumerGroup>> gone_consumers;
  for (auto it = consumer_groups_.begin(); it != consumer_groups_.end();) {
    if (offsets_partition_for(it->first, offsets_partitions_) == partition_index) {
      gone_consumers.push_back(std::move(it->second));
      it = consumer_groups_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(persisted_consumer_groups_, [this, partition_index](const auto& entry) {
    return offsets_partition_for(entry.first, offsets_partitions_) == partition_index;
  });
  std::erase_if(empty_since_ms_, [this, partition_index](const auto& entry) {
    return offsets_partition_for(entry.first, offsets_partitions_) == partition_index;
  });
  std::erase_if(offsets_, [this, partition_index](const auto& entry) {
    return offsets_partition_for(entry.first, offsets_partitions_) == partition_index;
  });
  for (auto& [_, groups] : pending_txn_)
    std::erase_if(groups, [this, partition_index](const auto& entry) {
      return offsets_partition_for(entry.first, offsets_partitions_) == partition_index;
    });
  std::erase_if(pending_txn_, [](const auto& entry) { return entry.second.empty(); });
  log_state_.erase(partition_index);
  // Answered only now, with the maps already clean: a resumed JoinGroup or
  // SyncGroup looks its group up again and must not find it.
  for (auto& g : gone) g->unload(ErrorCode::NOT_COORDINATOR);
  if (!gone.empty())
    spdlog::info("{}-{}: no longer its leader; unloaded {} groups", kOffsetsTopic, partition_index, gone.size());
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

void Coordinator::load(int32_t partition_index) {
  auto* partition = offsets_partition_(partition_index);
  if (!partition) return;
  unload(partition_index);
  size_t records = 0;
  cluster::replay_batches(*partition, [&](std::span<const uint8_t> batch) {
    try {
      uint16_t attributes = load_be16(batch.data() + 21);
      auto producer_id = static_cast<int64_t>(load_be64(batch.data() + 43));
      for (auto& rec : protocol::decode_record_batch(batch)) {
        ++records;
        if (!rec.key) continue;
        if (attributes & kControlFlag) {
          // A transaction marker: key version, type (0 ABORT, 1 COMMIT).
          if (rec.key->size() >= 4) complete_txn(partition_index, producer_id, load_be16(rec.key->data() + 2) == 1);
        } else if (attributes & kTransactionalFlag) {
          apply_txn_record(producer_id, *rec.key, rec.value);
        } else {
          track(partition_index, *rec.key, rec.value);
          apply(*rec.key, rec.value);
        }
      }
    } catch (const protocol::DecodeError& e) {
      spdlog::warn("{}-{}: skipping a malformed record batch: {}", kOffsetsTopic, partition_index, e.what());
    }
  });
  restore_consumer_groups(partition_index);
  if (records) spdlog::info("loaded {} records from {}-{}", records, kOffsetsTopic, partition_index);
  // Kafka's onLoaded: group.max.size may have been lowered since.
  auto now = Clock::now();
  for (auto& [id, g] : groups_)
    if (offsets_partition_for(id, offsets_partitions_) == partition_index) g->rebalance_if_over_capacity(now);
}

asio::awaitable<JoinResult> Coordinator::join(const std::string& group_id, const JoinRequest& request) {
  if (ConsumerGroup* cg = find_consumer(group_id)) {
    // A classic member joins a consumer group with members as one of its
    // members (a mixed group, Kafka's classicGroupJoinToConsumerGroup); an
    // empty consumer group gives way to a classic one, as in Kafka.
    if (!cg->empty()) {
      bool replaces_consumer_member =
          request.group_instance_id && cg->static_member_uses_consumer_protocol(*request.group_instance_id);
      auto result = cg->classic_join(request, catalog_, Clock::now());
      auto written = persist_if_dirty(*cg);
      // The last consumer-protocol member was a static member this classic
      // one replaced: the group goes back to classic at once (Kafka's
      // classicGroupJoinToConsumerGroup, step 4).
      if (replaces_consumer_member && result.error == ErrorCode::NONE) {
        if (auto downgraded = maybe_downgrade(group_id, DowngradeCause::StaticMemberReplaced)) written = downgraded;
      }
      if (written && result.error == ErrorCode::NONE) {
        bool durable = *written >= 0 && co_await wait_durable(group_id, *written);
        if (!durable) result.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
      }
      co_return result;
    }
    drop_consumer_group(group_id);
  }
  Group& g = get_or_create(group_id);
  auto result = co_await await_callback<JoinResult>(
      [&g, &request](auto done) { g.join(request, Clock::now(), std::move(done)); });
  if (auto* group = find(group_id)) persist_if_dirty(*group);
  co_return result;
}

asio::awaitable<SyncResult> Coordinator::sync(const std::string& group_id, const SyncRequest& request) {
  if (ConsumerGroup* cg = find_consumer(group_id)) co_return cg->classic_sync(request, catalog_, Clock::now());
  Group* g = find(group_id);
  if (!g) co_return SyncResult{ErrorCode::UNKNOWN_MEMBER_ID, {}, {}, {}};
  auto result = co_await await_callback<SyncResult>(
      [g, &request](auto done) { g->sync(request, Clock::now(), std::move(done)); });
  if (auto* group = find(group_id)) persist_if_dirty(*group);
  co_return result;
}

ErrorCode Coordinator::heartbeat(const std::string& group_id, const std::string& member_id,
                                 const std::optional<std::string>& instance_id, int32_t generation) {
  if (ConsumerGroup* cg = find_consumer(group_id))
    return cg->classic_heartbeat(member_id, instance_id, generation, Clock::now());
  Group* g = find(group_id);
  if (!g) return ErrorCode::UNKNOWN_MEMBER_ID;
  return g->heartbeat(member_id, instance_id, generation, Clock::now());
}

ErrorCode Coordinator::leave(const std::string& group_id, const std::string& member_id,
                             const std::optional<std::string>& instance_id) {
  if (ConsumerGroup* cg = find_consumer(group_id)) {
    auto error = cg->classic_leave(member_id, instance_id);
    (void)persist_if_dirty(*cg);
    return error;
  }
  Group* g = find(group_id);
  if (!g) return ErrorCode::UNKNOWN_MEMBER_ID;
  auto error = g->leave(member_id, instance_id, Clock::now());
  persist_if_dirty(*g);
  return error;
}

std::vector<protocol::Record> Coordinator::offset_records(const std::string& group_id,
                                                          const std::vector<CommitEntry>& entries, int64_t now_ms,
                                                          std::vector<ErrorCode>& errors,
                                                          std::vector<size_t>& written) const {
  std::vector<protocol::Record> records;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    std::string metadata = e.metadata.value_or("");
    if (static_cast<int64_t>(metadata.size()) > max_metadata_bytes_) {
      errors[i] = ErrorCode::OFFSET_METADATA_TOO_LARGE;
      continue;
    }
    protocol::Record r;
    r.key = encode_key(OffsetKey{group_id, e.topic, e.partition});
    r.value = encode_value(OffsetValue{e.offset, e.leader_epoch, metadata, now_ms});
    records.push_back(std::move(r));
    written.push_back(i);
  }
  return records;
}

asio::awaitable<std::vector<ErrorCode>> Coordinator::commit(const std::string& group_id, const std::string& member_id,
                                                            const std::optional<std::string>& instance_id,
                                                            int32_t generation, const std::vector<CommitEntry>& entries,
                                                            int16_t api_version) {
  Group* g = find(group_id);
  ErrorCode group_error = ErrorCode::NONE;
  if (ConsumerGroup* cg = find_consumer(group_id)) {
    // OffsetCommit v9's generation is the member epoch (KIP-848).
    g = nullptr;
    group_error = cg->validate_commit(member_id, generation, api_version, /*transactional=*/false);
  } else if (!g) {
    // Kafka creates the group on a first commit from outside the group
    // protocol; a generation for a group it does not know is a stale one.
    if (generation < 0)
      g = &get_or_create(group_id);
    else
      group_error = ErrorCode::ILLEGAL_GENERATION;
  }
  if (g && group_error == ErrorCode::NONE) group_error = g->validate_commit(member_id, instance_id, generation);
  std::vector<ErrorCode> errors(entries.size(), group_error);
  if (group_error != ErrorCode::NONE) co_return errors;

  std::vector<size_t> written;
  int64_t now = wall_clock_ms();
  auto records = offset_records(group_id, entries, now, errors, written);
  if (records.empty()) co_return errors;
  int64_t last = append(group_id, records);
  bool durable = co_await wait_durable(group_id, last);
  for (size_t i : written) {
    if (!durable) {
      errors[i] = ErrorCode::COORDINATOR_NOT_AVAILABLE;
      continue;
    }
    auto& e = entries[i];
    offsets_[group_id][{e.topic, e.partition}] = OffsetValue{e.offset, e.leader_epoch, e.metadata.value_or(""), now};
  }
  co_return errors;
}

void Coordinator::apply_txn_record(int64_t producer_id, std::span<const uint8_t> key_bytes,
                                   const std::optional<std::vector<uint8_t>>& value) {
  auto key = decode_key(key_bytes);
  auto* k = std::get_if<OffsetKey>(&key);
  if (!k || !value) return;
  pending_txn_[producer_id][k->group][{k->topic, k->partition}] = decode_offset_value(*value);
}

bool Coordinator::has_pending_txn(int32_t partition) const {
  for (const auto& [_, groups] : pending_txn_)
    for (const auto& [group_id, __] : groups)
      if (offsets_partition_for(group_id, offsets_partitions_) == partition) return true;
  return false;
}

bool Coordinator::has_pending_txn_offset(const std::string& group_id, const std::string& topic,
                                         int32_t partition) const {
  for (const auto& [_, groups] : pending_txn_) {
    auto it = groups.find(group_id);
    if (it != groups.end() && it->second.count({topic, partition})) return true;
  }
  return false;
}

void Coordinator::complete_txn(int32_t partition, int64_t producer_id, bool commit) {
  auto it = pending_txn_.find(producer_id);
  if (it == pending_txn_.end()) return;
  for (auto g = it->second.begin(); g != it->second.end();) {
    if (offsets_partition_for(g->first, offsets_partitions_) != partition) {
      ++g;
      continue;
    }
    auto& log = log_state(partition);
    for (auto& [tp, v] : g->second) {
      auto key = encode_key(OffsetKey{g->first, tp.first, tp.second});
      if (commit) {
        track(partition, key, encode_value(v));
        offsets_[g->first][tp] = v;
      } else {
        ++log.records;  // superseded: the snapshot drops it
      }
    }
    g = it->second.erase(g);
  }
  if (it->second.empty()) pending_txn_.erase(it);
}

asio::awaitable<std::vector<ErrorCode>> Coordinator::txn_commit(const std::string& group_id, int64_t producer_id,
                                                                int16_t producer_epoch, const std::string& member_id,
                                                                const std::optional<std::string>& instance_id,
                                                                int32_t generation,
                                                                const std::vector<CommitEntry>& entries,
                                                                const storage::TxnVerification& verification) {
  // Kafka's doTxnCommitOffsets: the group is made when unknown; a member and
  // a generation are checked only when the request names them.
  ErrorCode group_error = ErrorCode::NONE;
  const ConsumerGroup* cg = find_consumer(group_id);
  Group* classic = cg ? nullptr : find(group_id);
  if (!cg && !classic) classic = &get_or_create(group_id);
  if (cg) {
    group_error = cg->validate_commit(member_id, generation, 9, /*transactional=*/true);
    // Kafka answers a transactional commit's stale epoch as ILLEGAL_GENERATION.
    if (group_error == ErrorCode::STALE_MEMBER_EPOCH) group_error = ErrorCode::ILLEGAL_GENERATION;
  } else if (classic->state() == GroupState::Dead) {
    group_error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
  } else if (instance_id && classic->static_member(*instance_id) &&
             *classic->static_member(*instance_id) != member_id) {
    group_error = ErrorCode::FENCED_INSTANCE_ID;
  } else if (!member_id.empty() && !classic->members().count(member_id)) {
    group_error = ErrorCode::UNKNOWN_MEMBER_ID;
  } else if (generation >= 0 && generation != classic->generation()) {
    group_error = ErrorCode::ILLEGAL_GENERATION;
  }
  std::vector<ErrorCode> errors(entries.size(), group_error);
  if (group_error != ErrorCode::NONE) co_return errors;

  int32_t p = offsets_partition_for(group_id, offsets_partitions_);
  auto* partition = offsets_partition_(p);
  if (!partition) {
    std::fill(errors.begin(), errors.end(), ErrorCode::NOT_COORDINATOR);
    co_return errors;
  }
  std::vector<size_t> written;
  int64_t now = wall_clock_ms();
  auto records = offset_records(group_id, entries, now, errors, written);
  if (records.empty()) co_return errors;
  // The sequence continues the producer's on this partition (the log checks
  // it as it checks a client's batch); a new epoch starts at 0.
  int32_t sequence = 0;
  if (const auto* entry = partition->producer_state().find(producer_id)) {
    if (entry->epoch > producer_epoch) {
      for (size_t i : written) errors[i] = ErrorCode::INVALID_PRODUCER_EPOCH;
      co_return errors;
    }
    if (entry->epoch == producer_epoch && !entry->batches.empty())
      sequence = entry->batches.back().last_seq == INT32_MAX ? 0 : entry->batches.back().last_seq + 1;
  }
  auto batch = protocol::build_record_batch(records, now);
  make_transactional(batch, producer_id, producer_epoch, sequence);
  auto result = partition->append(batch, now, verification);
  if (result.error != ErrorCode::NONE) {
    spdlog::warn("writing transactional offsets to {}-{} failed: {}", kOffsetsTopic, p, error_name(result.error));
    for (size_t i : written)
      errors[i] = result.error == ErrorCode::INVALID_PRODUCER_EPOCH || result.error == ErrorCode::PRODUCER_FENCED ||
                          result.error == ErrorCode::INVALID_TXN_STATE
                      ? result.error
                      : ErrorCode::COORDINATOR_NOT_AVAILABLE;
    co_return errors;
  }
  // Pending from the append on, as Kafka's addPendingTxnOffsetCommit, so a
  // marker that overtakes the wait below still finds them.
  auto& pending = pending_txn_[producer_id][group_id];
  for (size_t i : written) {
    auto& e = entries[i];
    pending[{e.topic, e.partition}] = OffsetValue{e.offset, e.leader_epoch, e.metadata.value_or(""), now};
  }
  bool durable = co_await wait_durable(group_id, result.last_offset);
  if (!durable)
    for (size_t i : written) errors[i] = ErrorCode::COORDINATOR_NOT_AVAILABLE;
  co_return errors;
}

std::vector<CommittedOffset> Coordinator::fetch(
    const std::string& group_id, const std::optional<std::vector<std::pair<std::string, int32_t>>>& only) const {
  std::vector<CommittedOffset> out;
  auto it = offsets_.find(group_id);
  if (!only) {
    if (it == offsets_.end()) return out;
    for (const auto& [tp, v] : it->second) out.push_back({tp.first, tp.second, v.offset, v.leader_epoch, v.metadata});
    return out;
  }
  for (const auto& tp : *only) {
    CommittedOffset c{tp.first, tp.second, -1, -1, ""};
    if (it != offsets_.end()) {
      if (auto o = it->second.find(tp); o != it->second.end()) {
        c.offset = o->second.offset;
        c.leader_epoch = o->second.leader_epoch;
        c.metadata = o->second.metadata;
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

GroupDescription Coordinator::describe(const std::string& group_id) const {
  GroupDescription d;
  d.group_id = group_id;
  if (const ConsumerGroup* cg = consumer_group(group_id)) {
    // DescribeGroups describes classic groups only: Kafka answers a consumer
    // group as not found (Dead); ConsumerGroupDescribe is its API.
    d.type = "consumer";
    d.protocol_type = "consumer";
    d.consumer_state = std::string(consumer_state_name(cg->state()));
    return d;
  }
  const Group* g = find(group_id);
  if (!g) {
    // Kafka reports an unknown group as Dead, without an error; a group that
    // only has committed offsets is Empty.
    d.state = offsets_.count(group_id) ? GroupState::Empty : GroupState::Dead;
    return d;
  }
  d.state = g->state();
  d.protocol_type = g->protocol_type();
  d.protocol = g->protocol_name().value_or("");
  for (const auto& [id, m] : g->members())
    d.members.push_back({id, m.group_instance_id, m.client_id, m.client_host, g->member_metadata(m), m.assignment});
  return d;
}

std::vector<GroupDescription> Coordinator::list() const {
  std::vector<GroupDescription> out;
  for (const auto& [id, g] : groups_)
    if (g->state() != GroupState::Dead) out.push_back(describe(id));
  for (const auto& [id, _] : consumer_groups_) out.push_back(describe(id));
  for (const auto& [id, _] : offsets_)
    if (!groups_.count(id) && !consumer_groups_.count(id)) out.push_back(describe(id));
  return out;
}

asio::awaitable<ErrorCode> Coordinator::delete_group(const std::string& group_id) {
  if (ConsumerGroup* cg = find_consumer(group_id)) {
    if (!cg->empty()) co_return ErrorCode::NON_EMPTY_GROUP;
    std::vector<protocol::Record> tombstones;
    for (const auto& [tp, _] : offsets_[group_id]) {
      protocol::Record r;
      r.key = encode_key(OffsetKey{group_id, tp.first, tp.second});
      tombstones.push_back(std::move(r));
    }
    auto deletion = consumer_group_deletion(group_id);
    tombstones.insert(tombstones.end(), std::make_move_iterator(deletion.begin()),
                      std::make_move_iterator(deletion.end()));
    int64_t last = tombstones.empty() ? -1 : append(group_id, tombstones);
    cg->mark_dead();
    consumer_groups_.erase(group_id);
    offsets_.erase(group_id);
    empty_since_ms_.erase(group_id);
    co_await wait_durable(group_id, last);
    co_return ErrorCode::NONE;
  }
  Group* g = find(group_id);
  if (!g && !offsets_.count(group_id)) co_return ErrorCode::GROUP_ID_NOT_FOUND;
  if (g && g->state() == GroupState::Dead) co_return ErrorCode::GROUP_ID_NOT_FOUND;
  if (g && g->state() != GroupState::Empty) co_return ErrorCode::NON_EMPTY_GROUP;
  std::vector<protocol::Record> tombstones;
  for (const auto& [tp, _] : offsets_[group_id]) {
    protocol::Record r;
    r.key = encode_key(OffsetKey{group_id, tp.first, tp.second});
    tombstones.push_back(std::move(r));
  }
  protocol::Record group_tombstone;
  group_tombstone.key = encode_key(GroupKey{group_id});
  tombstones.push_back(std::move(group_tombstone));
  int64_t last = append(group_id, tombstones);
  co_await wait_durable(group_id, last);
  if (g) g->mark_dead();
  groups_.erase(group_id);
  offsets_.erase(group_id);
  co_return ErrorCode::NONE;
}

std::optional<std::set<std::string>> Coordinator::subscribed_topics(const Group& g) {
  std::set<std::string> topics;
  for (const auto& [_, m] : g.members()) {
    try {
      for (auto& t : decode_subscription_topics(g.member_metadata(m))) topics.insert(std::move(t));
    } catch (const protocol::DecodeError&) {
      return std::nullopt;  // unreadable: assume every topic is in use
    }
  }
  return topics;
}

asio::awaitable<std::pair<ErrorCode, std::vector<ErrorCode>>> Coordinator::delete_offsets(
    const std::string& group_id, const std::vector<std::pair<std::string, int32_t>>& partitions) {
  std::vector<ErrorCode> errors(partitions.size(), ErrorCode::NONE);
  Group* g = find(group_id);
  const ConsumerGroup* cg = consumer_group(group_id);
  if (!g && !cg && !offsets_.count(group_id)) co_return std::pair{ErrorCode::GROUP_ID_NOT_FOUND, errors};
  if (g && g->state() == GroupState::Dead) co_return std::pair{ErrorCode::GROUP_ID_NOT_FOUND, errors};
  std::vector<std::pair<std::string, int32_t>> deleted;
  if ((cg && !cg->empty()) || (g && g->state() != GroupState::Empty && g->protocol_type() == "consumer")) {
    // An active consumer group still reads the topics its members subscribe
    // to: Kafka refuses those partitions (GROUP_SUBSCRIBED_TO_TOPIC) and
    // deletes the others.
    std::optional<std::set<std::string>> subscribed;
    if (cg) {
      auto names = cg->subscribed_topic_names();
      subscribed.emplace(names.begin(), names.end());
    } else {
      subscribed = subscribed_topics(*g);
    }
    for (size_t i = 0; i < partitions.size(); ++i) {
      if (!subscribed || subscribed->count(partitions[i].first))
        errors[i] = ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC;
      else
        deleted.push_back(partitions[i]);
    }
  } else {
    deleted = partitions;
  }
  if (deleted.empty()) co_return std::pair{ErrorCode::NONE, errors};
  std::vector<protocol::Record> tombstones;
  for (const auto& tp : deleted) {
    protocol::Record r;
    r.key = encode_key(OffsetKey{group_id, tp.first, tp.second});
    tombstones.push_back(std::move(r));
  }
  int64_t last = append(group_id, tombstones);
  co_await wait_durable(group_id, last);
  for (const auto& tp : deleted) offsets_[group_id].erase(tp);
  co_return std::pair{ErrorCode::NONE, errors};
}

asio::awaitable<size_t> Coordinator::forget_topic(const std::string& topic) {
  // Tombstones are appended and the offsets dropped before the first wait, so
  // a commit for a topic of the same name created meanwhile lands after them.
  if (stopped_) co_return 0;
  std::vector<std::pair<std::string, int64_t>> written;  // group, last offset
  size_t removed = 0;
  for (auto& [group_id, offsets] : offsets_) {
    std::vector<protocol::Record> tombstones;
    for (auto it = offsets.lower_bound({topic, std::numeric_limits<int32_t>::min()});
         it != offsets.end() && it->first.first == topic;) {
      protocol::Record r;
      r.key = encode_key(OffsetKey{group_id, topic, it->first.second});
      tombstones.push_back(std::move(r));
      it = offsets.erase(it);
    }
    if (tombstones.empty()) continue;
    removed += tombstones.size();
    written.emplace_back(group_id, append(group_id, tombstones));
  }
  for (const auto& [group_id, last] : written) co_await wait_durable(group_id, last);
  co_return removed;
}

asio::awaitable<size_t> Coordinator::forget_missing_topics(std::function<bool(const std::string&)> exists) {
  std::set<std::string> missing;
  for (const auto& [group_id, offsets] : offsets_)
    for (const auto& [key, value] : offsets)
      if (!missing.count(key.first) && !exists(key.first)) missing.insert(key.first);
  size_t removed = 0;
  for (const auto& topic : missing) removed += co_await forget_topic(topic);
  co_return removed;
}

void Coordinator::track_empty_groups(int64_t now_ms) {
  for (const auto& [group_id, g] : groups_) {
    if (g->state() == GroupState::Empty)
      empty_since_ms_.try_emplace(group_id, now_ms);
    else
      empty_since_ms_.erase(group_id);
  }
  for (const auto& [group_id, g] : consumer_groups_) {
    if (g->empty())
      empty_since_ms_.try_emplace(group_id, now_ms);
    else
      empty_since_ms_.erase(group_id);
  }
}

void Coordinator::expire_offsets(int64_t now_ms) {
  std::vector<std::string> emptied;
  for (auto& [group_id, offsets] : offsets_) {
    const Group* g = find(group_id);
    // Kafka's GroupMetadata.removeExpiredOffsets: where each offset's age
    // counts from, and which offsets are exempt.
    std::optional<int64_t> emptied_at;                // an empty group: when it emptied
    std::optional<std::set<std::string>> subscribed;  // a stable consumer group: kept
    if (const ConsumerGroup* cg = consumer_group(group_id)) {
      if (cg->empty()) {
        auto it = empty_since_ms_.find(group_id);
        if (it != empty_since_ms_.end()) emptied_at = it->second;
      } else {
        auto names = cg->subscribed_topic_names();
        subscribed.emplace(names.begin(), names.end());
      }
    } else if (g && !g->protocol_type().empty()) {
      if (g->state() == GroupState::Empty) {
        auto it = empty_since_ms_.find(group_id);
        if (it != empty_since_ms_.end()) emptied_at = it->second;
      } else if (g->state() == GroupState::Stable && g->protocol_type() == "consumer") {
        subscribed = subscribed_topics(*g);
        if (!subscribed) continue;
      } else {
        continue;
      }
    }
    std::vector<protocol::Record> tombstones;
    for (auto it = offsets.begin(); it != offsets.end();) {
      int64_t since = emptied_at.value_or(it->second.commit_timestamp);
      // Kafka keeps an offset a transaction is about to replace.
      if ((subscribed && subscribed->count(it->first.first)) || now_ms - since < offsets_retention_ms_ ||
          has_pending_txn_offset(group_id, it->first.first, it->first.second)) {
        ++it;
        continue;
      }
      protocol::Record r;
      r.key = encode_key(OffsetKey{group_id, it->first.first, it->first.second});
      tombstones.push_back(std::move(r));
      it = offsets.erase(it);
    }
    if (tombstones.empty()) continue;
    spdlog::info("group {}: {} committed offsets expired (offsets.retention.minutes)", group_id, tombstones.size());
    (void)append(group_id, tombstones);  // not led here any more: the next coordinator expires them
  }
  // As Kafka's cleanupGroupMetadata: an empty group without offsets (they
  // expired, or it never committed any) is deleted.
  for (const auto& [group_id, g] : groups_) {
    auto it = offsets_.find(group_id);
    bool pending = std::any_of(pending_txn_.begin(), pending_txn_.end(),
                               [&](const auto& producer) { return producer.second.count(group_id) > 0; });
    if (g->state() == GroupState::Empty && (it == offsets_.end() || it->second.empty()) && !pending)
      emptied.push_back(group_id);
  }
  for (const auto& [group_id, g] : consumer_groups_) {
    auto it = offsets_.find(group_id);
    bool pending = std::any_of(pending_txn_.begin(), pending_txn_.end(),
                               [&](const auto& producer) { return producer.second.count(group_id) > 0; });
    if (g->empty() && (it == offsets_.end() || it->second.empty()) && !pending) emptied.push_back(group_id);
  }
  for (const auto& group_id : emptied) {
    if (consumer_groups_.count(group_id)) {
      drop_consumer_group(group_id);
      offsets_.erase(group_id);
      empty_since_ms_.erase(group_id);
      spdlog::info("consumer group {}: deleted, empty and without offsets", group_id);
      continue;
    }
    protocol::Record group_tombstone;
    group_tombstone.key = encode_key(GroupKey{group_id});
    (void)append(group_id, {group_tombstone});
    if (auto* g = find(group_id)) g->mark_dead();
    groups_.erase(group_id);
    offsets_.erase(group_id);
    empty_since_ms_.erase(group_id);
    spdlog::info("group {}: deleted, empty and without offsets", group_id);
  }
  std::erase_if(offsets_, [this](const auto& entry) {
    return entry.second.empty() && !find(entry.first) && !consumer_groups_.count(entry.first);
  });
}

}  // namespace runnel::group
