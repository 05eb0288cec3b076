// The group coordinator's committed offsets (OffsetCommit, OffsetFetch,
// OffsetDelete), their transactions (TxnOffsetCommit and the markers that
// end them), and their expiry (offsets.retention.minutes) and cleanup when
// topics go.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/crc32c.h"
#include "base/endian.h"
#include "group/coordinator.h"
#include "protocol/reader.h"

namespace runnel::group {
namespace {

constexpr uint16_t kTransactionalFlag = 0x10;

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

ErrorCode Coordinator::validate_offset_fetch(const std::string& group_id, const std::optional<std::string>& member_id,
                                             int32_t member_epoch) const {
  const ConsumerGroup* g = consumer_group(group_id);
  return g ? g->validate_fetch(member_id, member_epoch) : ErrorCode::NONE;
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
