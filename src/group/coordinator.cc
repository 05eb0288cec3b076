// The group coordinator: its groups' log (__consumer_offsets: appends,
// compaction, loading and unloading a partition) and the classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup; describe, list,
// delete). KIP-848 consumer groups are in coordinator_consumer_groups.cc,
// committed offsets and their transactions in coordinator_offsets.cc.
#include "group/coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/await_callback.h"
#include "base/clock.h"
#include "base/endian.h"
#include "cluster/batch_replay.h"
#include "group/consumer_group_records.h"
#include "group/group_conversion.h"
#include "protocol/reader.h"
#include "protocol/record_batch.h"

namespace runnel::group {
namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(100);

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

bool Coordinator::has_group(const std::string& group_id) const {
  const Group* g = find(group_id);
  return (g && g->state() != GroupState::Dead) || consumer_groups_.count(group_id) || offsets_.count(group_id);
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

void Coordinator::load(int32_t partition_index) {
  auto* partition = offsets_partition_(partition_index);
  if (!partition) return;
  unload(partition_index);
  size_t records = 0;
  cluster::replay_batches(*partition, [&](std::span<const uint8_t> batch) {
    try {
      const protocol::BatchView header(batch);
      const int64_t producer_id = header.producer_id();
      for (auto& rec : protocol::decode_record_batch(batch)) {
        ++records;
        if (!rec.key) continue;
        if (header.is_control()) {
          // A transaction marker: key version, type (0 ABORT, 1 COMMIT).
          if (rec.key->size() >= 4) complete_txn(partition_index, producer_id, load_be16(rec.key->data() + 2) == 1);
        } else if (header.is_transactional()) {
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

}  // namespace runnel::group
