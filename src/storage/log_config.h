#pragma once
// Per-topic log settings, with Kafka's topic-level names in comments.
// Plain value type; thread-safe to copy.
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace runnel::storage {

enum class TimestampType : int8_t { CreateTime = 0, LogAppendTime = 1 };

// leader.replication.throttled.replicas / follower.replication.throttled.replicas
// (KIP-73): the replicas whose replication the broker's throttle rates limit,
// as (partition, broker) pairs, or every replica of the topic ("*").
struct ThrottledReplicas {
  bool all = false;
  std::vector<std::pair<int32_t, int32_t>> replicas;

  bool covers(int32_t partition, int32_t broker) const {
    if (all) return true;
    for (const auto& [p, b] : replicas)
      if (p == partition && b == broker) return true;
    return false;
  }
  bool operator==(const ThrottledReplicas&) const = default;
};

struct LogConfig {
  int64_t segment_bytes = 1024 * 1024 * 1024;   // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;  // segment.ms
  // segment.jitter.ms: each segment rolls by time at segment.ms less a random
  // jitter below min(segment.jitter.ms, segment.ms), drawn when it is created
  // (Kafka's LogConfig.randomSegmentJitter).
  int64_t segment_jitter_ms = 0;
  // segment.index.bytes: the largest an offset or time index may grow; the
  // active segment rolls once either is full (as Kafka's LogSegment.shouldRoll).
  int32_t segment_index_bytes = 10 * 1024 * 1024;
  // flush.messages / flush.ms: acks=0/1 data is fdatasync'd once this many
  // records, or this much time since the last sync, are unsynced (acks=all
  // data is synced before it is acknowledged whatever these say).
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  // preallocate: a new segment's log file gets segment.bytes of disk blocks
  // reserved at creation (Env::preallocate; its length stays that of its
  // data), the unused rest released when it is sealed (roll, close).
  bool preallocate = false;
  // runnel.page.cache.tail.bytes (a broker setting, no Kafka name): once a
  // sync has made them durable, the log bytes of a partition more than this
  // far behind its end are dropped from the page cache (posix_fadvise
  // POSIX_FADV_DONTNEED), so appends reuse pages just freed instead of
  // growing the cache; readers of older data then read from the disk. For
  // machines where new page-cache memory is dear: on the dev VM the host
  // takes free memory back and each first write into it costs ~2 ms per MB
  // of CPU (bench/README.md, "Slow hours"). 0: the kernel decides, as for
  // Kafka.
  int64_t page_cache_tail_bytes = 0;
  // file.delete.delay.ms: a segment deleted by retention or DeleteRecords is
  // renamed to `<name>.deleted` and its files removed this long after (at a
  // retention check; at the next open() if the broker stops first), as Kafka
  // does. 0: removed at once.
  int64_t file_delete_delay_ms = 60000;
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;             // retention.ms (-1: forever)
  int64_t retention_bytes = -1;                              // retention.bytes (-1: unlimited)
  int32_t max_message_bytes = 1048588;                       // max.message.bytes
  int32_t index_interval_bytes = 4096;                       // index.interval.bytes
  TimestampType timestamp_type = TimestampType::CreateTime;  // message.timestamp.type
  // compression.type: -1 producer (stored as sent), else the codec every
  // produced batch is stored in (0 uncompressed, 1 gzip, 2 snappy, 3 lz4,
  // 4 zstd), at compression.<codec>.level.
  int8_t compression = -1;
  int32_t compression_gzip_level = -1;
  int32_t compression_lz4_level = 9;
  int32_t compression_zstd_level = 3;
  int32_t compression_level() const {
    return compression == 1   ? compression_gzip_level
           : compression == 3 ? compression_lz4_level
           : compression == 4 ? compression_zstd_level
                              : 0;
  }
  bool compact = false;  // cleanup.policy has compact
  // The log cleaner (storage/log_cleaner.h), for topics with compact in
  // cleanup.policy. min.cleanable.dirty.ratio: a partition is cleaned once
  // its uncleaned share of the cleanable bytes is above it;
  // min.compaction.lag.ms: records younger than this stay uncleaned;
  // max.compaction.lag.ms: older uncleaned records are cleaned whatever the
  // ratio; delete.retention.ms: how long a tombstone (and a transaction
  // marker with no data left) outlives its first cleaning.
  double min_cleanable_dirty_ratio = 0.5;
  // __consumer_offsets and __transaction_state: compacted by their
  // coordinators (snapshots of the live state), never by the log cleaner.
  bool compacted_by_owner = false;
  int64_t min_compaction_lag_ms = 0;
  int64_t max_compaction_lag_ms = std::numeric_limits<int64_t>::max();
  int64_t delete_retention_ms = 24LL * 3600 * 1000;
  bool cleanup_delete = true;       // cleanup.policy has delete: retention.ms / retention.bytes apply
  int32_t min_insync_replicas = 1;  // min.insync.replicas (acks=all)
  // unclean.leader.election.enable: with no in-sync replica left, the
  // controller lets a live replica outside the ISR lead (losing what only
  // the ISR had) rather than leave the partition offline.
  bool unclean_leader_election = false;
  // producer.id.expiration.ms (a broker setting, as in Kafka): an idempotent
  // producer with no batch for this long is forgotten by the partition (at
  // the retention check).
  int64_t producer_id_expiration_ms = 24LL * 3600 * 1000;
  // How far a CreateTime record timestamp may lie before / after the broker's
  // clock: message.timestamp.before.max.ms / message.timestamp.after.max.ms.
  // Unset means Kafka 4.0's defaults (unlimited / one hour), or, when given,
  // the pre-4.0 message.timestamp.difference.max.ms (Kafka 3.6-3.9 used it for
  // whichever of the two was left at its default).
  std::optional<int64_t> timestamp_before_max_ms;
  std::optional<int64_t> timestamp_after_max_ms;
  std::optional<int64_t> timestamp_difference_max_ms;
  // The replicas a leader throttles what it sends to (leader side) and a
  // follower what it fetches for (follower side): replication, not storage,
  // but per topic like the rest.
  ThrottledReplicas leader_throttled;
  ThrottledReplicas follower_throttled;

  // Whether a change of the broker's defaults touched a topic.
  bool operator==(const LogConfig&) const = default;

  static constexpr int64_t kDefaultTimestampBeforeMaxMs = std::numeric_limits<int64_t>::max();
  static constexpr int64_t kDefaultTimestampAfterMaxMs = 3600 * 1000;
  int64_t effective_timestamp_before_max_ms() const {
    return timestamp_before_max_ms.value_or(timestamp_difference_max_ms.value_or(kDefaultTimestampBeforeMaxMs));
  }
  int64_t effective_timestamp_after_max_ms() const {
    return timestamp_after_max_ms.value_or(timestamp_difference_max_ms.value_or(kDefaultTimestampAfterMaxMs));
  }
};

}  // namespace runnel::storage
