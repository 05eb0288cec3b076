#pragma once
// The group coordinator of one shard: the consumer groups whose
// __consumer_offsets partition this shard owns, their committed offsets, and
// the timer that expires sessions and finishes rebalances. Group and offset
// changes are appended to __consumer_offsets; commits are answered once
// fdatasync'd, and everything is rebuilt from that topic at start-up. The
// topic is compacted by snapshot: the live records are rewritten at the end
// and the log start moves past the superseded ones.
//
// Thread-safety: none; every method runs on the owning shard.
#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/partition.h"
#include "group/consumer_group.h"
#include "group/group.h"
#include "group/group_timeouts.h"
#include "group/offsets_format.h"
#include "protocol/record_codec.h"

namespace runnel::group {

inline const std::string kOffsetsTopic = "__consumer_offsets";

// Kafka's choice of __consumer_offsets partition: abs(groupId.hashCode()) % partitions.
int32_t offsets_partition_for(const std::string& group_id, int32_t partitions);

struct CommitEntry {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
};

struct CommittedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  ErrorCode error = ErrorCode::NONE;  // UNSTABLE_OFFSET_COMMIT (OffsetFetch require_stable)
};

struct GroupDescription {
  std::string group_id;
  GroupState state = GroupState::Dead;
  // ListGroups v5's group type; a consumer group (KIP-848) carries its own
  // state name (Empty, Assigning, Reconciling, Stable).
  std::string type = "classic";
  std::optional<std::string> consumer_state;
  std::string protocol_type;
  std::string protocol;
  struct MemberInfo {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    Bytes metadata;
    Bytes assignment;
  };
  std::vector<MemberInfo> members;
};

class Coordinator {
 public:
  // `offsets_partition(p)` returns this shard's partition p of __consumer_offsets
  // (or nullptr); it is the store for every group mapped to p.
  // `compaction_min_records`: a partition of __consumer_offsets is compacted
  // once it holds at least this many superseded records, and at least as many
  // as live ones.
  Coordinator(asio::io_context& io, GroupLimits limits, int64_t max_metadata_bytes,
              std::function<cluster::Partition*(int32_t)> offsets_partition, int32_t offsets_partitions,
              int64_t compaction_min_records);

  void start();
  void stop();
  // group.consumer.* (KIP-848 consumer groups).
  void set_consumer_group_config(ConsumerGroupConfig config) { consumer_config_ = std::move(config); }
  const ConsumerGroupConfig& consumer_group_config() const { return consumer_config_; }
  // Each group's session timeout and heartbeat interval (its GROUP configs,
  // else consumer_config_'s); read at each heartbeat. Owned by the Broker.
  void set_group_timeouts(const GroupTimeoutTable* table) { group_timeouts_ = table; }
  // The topic catalogue (mixed groups map topic names and ids with it).
  void set_topic_catalog(TopicCatalog catalog) { catalog_ = std::move(catalog); }
  // offsets.retention.minutes and offsets.retention.check.interval.ms, as
  // Kafka applies them (KIP-211): the offsets of an empty group expire
  // `retention_ms` after it emptied, then the group is deleted; offsets
  // committed outside a group (no protocol) expire `retention_ms` after their
  // commit, as do those of a stable consumer group for topics it no longer
  // subscribes to. A group that is rebalancing keeps its offsets.
  void set_offsets_retention(int64_t retention_ms, int64_t check_interval_ms) {
    offsets_retention_ms_ = retention_ms;
    retention_check_interval_ms_ = check_interval_ms;
  }

  // Rebuilds groups and offsets from one __consumer_offsets partition (this
  // broker now leads it). Whatever was kept of it before is dropped first.
  void load(int32_t partition);
  // Drops the groups and offsets of one __consumer_offsets partition (this
  // broker no longer leads it): waiting members get NOT_COORDINATOR, and
  // nothing stale is left to resurface if the partition comes back.
  void unload(int32_t partition);

  asio::awaitable<JoinResult> join(const std::string& group_id, const JoinRequest& request);
  asio::awaitable<SyncResult> sync(const std::string& group_id, const SyncRequest& request);
  ErrorCode heartbeat(const std::string& group_id, const std::string& member_id,
                      const std::optional<std::string>& instance_id, int32_t generation);
  ErrorCode leave(const std::string& group_id, const std::string& member_id,
                  const std::optional<std::string>& instance_id);

  // ConsumerGroupHeartbeat (KIP-848), for a request that passed
  // validate_heartbeat(). A non-empty classic group of that id is converted
  // to a consumer group when a member joins and
  // group.consumer.migration.policy allows the upgrade, and answers
  // GROUP_ID_NOT_FOUND otherwise; an empty one is replaced. A consumer group
  // left with classic members only goes back to a classic group (downgrade).
  // The group's changes are durable before the answer.
  asio::awaitable<ConsumerHeartbeatResult> consumer_heartbeat(const std::string& group_id,
                                                              const ConsumerHeartbeat& request,
                                                              const TopicCatalog& topics);
  // The consumer group (KIP-848) of that id, or nullptr.
  const ConsumerGroup* consumer_group(const std::string& group_id) const;
  // Whether the group exists in any form: a classic or consumer group, or
  // committed offsets alone (OffsetCommit v9's GROUP_ID_NOT_FOUND).
  bool has_group(const std::string& group_id) const;
  // OffsetFetch v9+ for a consumer group: UNKNOWN_MEMBER_ID or
  // STALE_MEMBER_EPOCH when the member or its epoch is wrong; NONE otherwise
  // (and always for classic groups, as before).
  ErrorCode validate_offset_fetch(const std::string& group_id, const std::optional<std::string>& member_id,
                                  int32_t member_epoch) const;

  // Validates the member, then stores the offsets durably. Per-entry errors
  // in order. `api_version` is OffsetCommit's (a consumer group member must
  // commit with v9+).
  asio::awaitable<std::vector<ErrorCode>> commit(const std::string& group_id, const std::string& member_id,
                                                 const std::optional<std::string>& instance_id, int32_t generation,
                                                 const std::vector<CommitEntry>& entries, int16_t api_version = 9);
  // TxnOffsetCommit (KIP-98, KIP-447): the offsets are appended as a
  // transactional batch of the producer and kept pending, per producer,
  // until a marker for it lands on the group's partition (complete_txn).
  // Member and generation are checked only when given (v3+). Per-entry
  // errors in order. `verification`: KIP-890's guard for the batch
  // (storage/producer_state.h); an append it refuses answers INVALID_TXN_STATE.
  asio::awaitable<std::vector<ErrorCode>> txn_commit(const std::string& group_id, int64_t producer_id,
                                                     int16_t producer_epoch, const std::string& member_id,
                                                     const std::optional<std::string>& instance_id, int32_t generation,
                                                     const std::vector<CommitEntry>& entries,
                                                     const storage::TxnVerification& verification = {});
  // A COMMIT (`commit`) or ABORT marker for the producer is durable on
  // __consumer_offsets partition p: its pending offsets for the groups of p
  // become the committed ones, or are dropped.
  void complete_txn(int32_t partition, int64_t producer_id, bool commit);
  // Whether a transaction holds offsets for the partition that are not
  // committed yet (OffsetFetch's UNSTABLE_OFFSET_COMMIT, KIP-447).
  bool has_pending_txn_offset(const std::string& group_id, const std::string& topic, int32_t partition) const;
  // Every committed offset of the group (when `only` is empty) or those asked for
  // (offset -1 where none is committed).
  std::vector<CommittedOffset> fetch(const std::string& group_id,
                                     const std::optional<std::vector<std::pair<std::string, int32_t>>>& only) const;

  GroupDescription describe(const std::string& group_id) const;
  std::vector<GroupDescription> list() const;
  // GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or NONE.
  asio::awaitable<ErrorCode> delete_group(const std::string& group_id);
  // Deletes committed offsets (OffsetDelete). Group errors, or per-partition errors.
  asio::awaitable<std::pair<ErrorCode, std::vector<ErrorCode>>> delete_offsets(
      const std::string& group_id, const std::vector<std::pair<std::string, int32_t>>& partitions);
  // A topic was deleted: every group loaded here forgets its committed offsets
  // for the topic's partitions (tombstones in __consumer_offsets), as Kafka's
  // coordinator does (onPartitionsDeleted), so that a topic created again
  // under the same name is not read from the old topic's offsets. Groups are
  // not rebalanced: their members notice the deletion through Metadata. Returns
  // how many offsets were removed.
  asio::awaitable<size_t> forget_topic(const std::string& topic);
  // forget_topic for every topic with committed offsets here that `exists`
  // says is gone. A broker that takes over a partition of __consumer_offsets
  // after a topic was deleted (it was down, or led nothing, when the deletion
  // reached it) replays the deleted topic's offsets from the log: without
  // this it would serve them, and a topic created again under that name
  // would be read from them. Returns how many offsets were removed.
  asio::awaitable<size_t> forget_missing_topics(std::function<bool(const std::string&)> exists);

 private:
  Group* find(const std::string& group_id);
  const Group* find(const std::string& group_id) const;
  Group& get_or_create(const std::string& group_id);
  // Appends the classic group's state when it changed: the record's offset,
  // -1 when the append failed, nullopt when nothing changed.
  std::optional<int64_t> persist_if_dirty(Group& g);
  ConsumerGroup* find_consumer(const std::string& group_id);
  // Appends the consumer group's state when it changed: the record's offset,
  // -1 when the append failed, nullopt when nothing changed.
  std::optional<int64_t> persist_if_dirty(ConsumerGroup& g);
  // Deletes a consumer group (tombstones); its offsets stay.
  void drop_consumer_group(const std::string& group_id);
  // The tombstones that delete a consumer group's records from the log; it
  // is forgotten as persisted.
  std::vector<protocol::Record> consumer_group_deletion(const std::string& group_id);
  // Online migration (group_conversion.h). The classic group with members
  // becomes a consumer group for `member_id` to join (nullptr when it
  // cannot: `error` is then Kafka's answer, GROUP_ID_NOT_FOUND, or
  // GROUP_MAX_SIZE_REACHED when the group is at group.consumer.max.size); a
  // consumer group of classic members only becomes a classic group that
  // rebalances, when the policy and group.max.size allow it.
  ConsumerGroup* upgrade(const std::string& group_id, const std::string& member_id, ErrorCode& error,
                         std::string& message);
  // The offset of the classic group's record when it downgraded. A group
  // whose last consumer-protocol member left rebalances; one whose last was
  // replaced by a classic static member (`replaced`) stays Stable, as in
  // Kafka: the joining member syncs the replaced member's assignment.
  enum class DowngradeCause { MemberLeft, StaticMemberReplaced };
  std::optional<int64_t> maybe_downgrade(const std::string& group_id,
                                         DowngradeCause cause = DowngradeCause::MemberLeft);
  // Applies one __consumer_offsets record (replay at start-up).
  void apply(std::span<const uint8_t> key, const std::optional<std::vector<uint8_t>>& value);
  // Appends records to the group's offsets partition; returns the last offset or -1.
  int64_t append(const std::string& group_id, const std::vector<protocol::Record>& records);
  // The __consumer_offsets records of a commit's entries (OffsetCommit,
  // TxnOffsetCommit), committed at `now_ms`; an entry whose metadata is too
  // large gets OFFSET_METADATA_TOO_LARGE in `errors` instead, and `written`
  // lists the indexes of the others.
  std::vector<protocol::Record> offset_records(const std::string& group_id, const std::vector<CommitEntry>& entries,
                                               int64_t now_ms, std::vector<ErrorCode>& errors,
                                               std::vector<size_t>& written) const;
  // Appends records as one batch to partition p, without tracking them; returns the last offset or -1.
  int64_t append_batch(int32_t p, const std::vector<protocol::Record>& records);
  asio::awaitable<bool> wait_durable(const std::string& group_id, int64_t offset);
  void schedule_tick();
  // The topics a consumer group's members subscribe to, from their protocol
  // metadata; nullopt when some member's metadata cannot be read.
  static std::optional<std::set<std::string>> subscribed_topics(const Group& g);
  // Remembers what a record written to (or read from) partition p supersedes.
  void track(int32_t p, std::span<const uint8_t> key, const std::optional<std::vector<uint8_t>>& value);
  void maybe_compact();
  // Notes when each group emptied (for offsets.retention.minutes).
  void track_empty_groups(int64_t now_ms);
  // Tombstones the offsets whose retention has passed (set_offsets_retention)
  // and deletes the empty groups left with none.
  void expire_offsets(int64_t now_ms);
  // Rewrites the live records of partition p at its end, waits until they are
  // durable, then moves the log start past everything older (whole segments
  // below it are deleted). A crash at any point leaves a log that replays to
  // the same state.
  asio::awaitable<void> compact(int32_t p);

  asio::io_context& io_;
  GroupLimits limits_;
  int64_t max_metadata_bytes_;
  std::function<cluster::Partition*(int32_t)> offsets_partition_;
  int32_t offsets_partitions_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  // KIP-848 consumer groups; a group id is in groups_ or here, never both.
  std::map<std::string, std::unique_ptr<ConsumerGroup>> consumer_groups_;
  // What the log holds of each consumer group: the base of the records of
  // its next change (consumer_group_records.h), and while loading the image
  // the records build. `legacy`: held in a runnel v1000 record, which the
  // next change tombstones and replaces by a full set of Kafka's records.
  struct PersistedConsumerGroup {
    ConsumerGroupValue value;
    bool legacy = false;
  };
  std::map<std::string, PersistedConsumerGroup> persisted_consumer_groups_;
  // Builds the consumer groups of a loaded partition from their images.
  void restore_consumer_groups(int32_t partition_index);
  ConsumerGroupConfig consumer_config_;
  const GroupTimeoutTable* group_timeouts_ = nullptr;
  // consumer_config_ with the group's own timings.
  ConsumerGroupConfig consumer_config_for(const std::string& group_id) const;
  TopicCatalog catalog_;
  std::map<std::string, std::map<std::pair<std::string, int32_t>, OffsetValue>> offsets_;
  // Transactional offset commits not yet committed or aborted: producer id ->
  // group -> partition -> offset (Kafka's pendingTransactionalOffsetCommits).
  using PendingOffsets = std::map<std::string, std::map<std::pair<std::string, int32_t>, OffsetValue>>;
  std::map<int64_t, PendingOffsets> pending_txn_;
  bool has_pending_txn(int32_t partition) const;
  // Applies a transactional batch's records or a marker while loading.
  void apply_txn_record(int64_t producer_id, std::span<const uint8_t> key,
                        const std::optional<std::vector<uint8_t>>& value);
  // Per owned __consumer_offsets partition: the latest record of every live
  // key as written to the log (a commit counts from its append, before it is
  // durable, so a snapshot never misses one), and how many records the log
  // holds from its start.
  struct OffsetsLogState {
    std::map<std::vector<uint8_t>, std::vector<uint8_t>> latest;
    int64_t records = 0;
    bool compacting = false;
  };
  // Shared with a compaction in flight, which may outlive an unload.
  std::map<int32_t, std::shared_ptr<OffsetsLogState>> log_state_;
  OffsetsLogState& log_state(int32_t p);
  int64_t compaction_min_records_;
  int64_t offsets_retention_ms_ = 7LL * 24 * 3600 * 1000;
  int64_t retention_check_interval_ms_ = 600000;
  int64_t last_retention_check_ms_ = 0;
  // Wall-clock time each loaded group was last seen become empty (from its
  // persisted state timestamp after a load).
  std::map<std::string, int64_t> empty_since_ms_;
  asio::steady_timer tick_timer_;
  bool stopped_ = false;
};

}  // namespace runnel::group
