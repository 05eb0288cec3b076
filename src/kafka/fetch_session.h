#pragma once
// Fetch sessions (KIP-227), the leader's side. A follower fetches the same
// hundreds of partitions from its leader round after round, nearly all of
// them idle. In a session it names a partition only when its fetch state
// changed (offset, durable offset, epochs), and the leader answers only the
// partitions with news: records, an error, or a moved high watermark, last
// stable offset or log start. The leader reads only what may have news:
// each partition read leaves its entry's waiter on it, and an append or a
// change of the partition marks the entry dirty and wakes the session's
// parked fetch. A round's cost follows what changed, not how many
// partitions the follower replicates.
//
// Every partition is still read now and then (a sweep, FetchSession::
// sweep_due): a read tells the leader the follower is still caught up, and
// without it an idle partition would drop the follower from its ISR after
// replica.lag.time.max.ms. A change that wakes no waiter (a replica
// replaced without closing the old one first) is also seen by the sweep.
//
// Sessions are offered to follower fetches only (replica_id set): no client
// tested here uses them, and a consumer is answered session id 0, which
// every client takes as "send full requests". They live with their
// connection (a follower that reconnects starts a new one, as its
// FETCH_SESSION_ID_NOT_FOUND tells it to) and their ids are unique
// broker-wide.
//
// Thread-safety: a session is used by one Fetch at a time, on the
// connection's shard; an entry's replica and generation are touched only on
// the shard that owns its partition (in the Fetch's hop); `dirty` and the
// Wake are what other shards touch (atomic, and under Wake's mutex).
#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error_code.h"
#include "kafka/fetch_partition_cache.h"
#include "protocol/fetch_session_epoch.h"
#include "protocol/messages.h"

namespace runnel {

namespace cluster {
class Partition;
struct FetchWaiter;
}  // namespace cluster

class FetchSession {
 public:
  // Wakes the session's Fetch parked on `timer` (on `executor`) when an
  // entry becomes dirty.
  struct Wake {
    std::mutex mu;
    std::optional<asio::io_context::executor_type> executor;
    std::weak_ptr<asio::steady_timer> timer;
    void wake();
  };
  struct Entry {
    std::string topic;
    protocol::Uuid topic_id{};
    protocol::FetchRequest::FetchPartition request;  // the fetch state as last named
    // What the follower was last told (-2: nothing yet, so that the first
    // answer carries the partition).
    int64_t high_watermark = -2;
    int64_t last_stable_offset = -2;
    int64_t log_start_offset = -2;
    // Set by the waiter (any shard) and by an answer that left something
    // to say; read and cleared when a Fetch picks the entry.
    std::atomic<bool> dirty{true};
    // Picked by the Fetch in progress (session shard only).
    bool in_round = false;
    std::shared_ptr<cluster::FetchWaiter> waiter;
    // The replica as last looked up (its shard only).
    ReplicaLookup lookup;
  };

  explicit FetchSession(int32_t id);
  ~FetchSession();
  FetchSession(const FetchSession&) = delete;
  FetchSession& operator=(const FetchSession&) = delete;
  int32_t id() const { return id_; }
  // The epoch the next incremental request must carry.
  int32_t next_epoch() const { return next_epoch_; }
  void advance_epoch() { next_epoch_ = protocol::next_fetch_session_epoch(next_epoch_); }

  // Adds (topic, partition), or updates its fetch state: picked this round.
  Entry& name(const std::string& topic, const protocol::Uuid& topic_id,
              const protocol::FetchRequest::FetchPartition& partition);
  void forget(const std::string& topic, int32_t partition);
  // The entries in the order they were added (the answer's order).
  const std::vector<std::shared_ptr<Entry>>& entries() const { return entries_; }
  const std::shared_ptr<Wake>& wake() const { return wake_; }

  // True once per `interval_ms`: this round reads every entry.
  bool sweep_due(int64_t now_ms, int64_t interval_ms);

 private:
  const int32_t id_;
  int32_t next_epoch_ = protocol::next_fetch_session_epoch(protocol::kInitialFetchSessionEpoch);
  std::shared_ptr<Wake> wake_;
  std::vector<std::shared_ptr<Entry>> entries_;
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<Entry>> by_name_;
  int64_t last_sweep_ms_ = std::numeric_limits<int64_t>::min();
};

// A connection's sessions (a follower's fetcher keeps one on its connection).
//
// Thread-safety: one per connection, used on its shard by one Fetch at a time.
class FetchSessions {
 public:
  static constexpr size_t kMaxPerConnection = 8;

  // A new session (with an id unique in this broker), or null when the
  // connection holds kMaxPerConnection already.
  FetchSession* create();
  FetchSession* find(int32_t id);
  void close(int32_t id);

  // The sessions open in this process and the partitions they hold (the
  // metrics runnel_fetch_sessions and runnel_fetch_session_partitions,
  // Kafka's NumIncrementalFetchSessions and
  // NumIncrementalFetchPartitionsCached).
  static int64_t open_sessions();
  static int64_t held_partitions();

 private:
  std::vector<std::unique_ptr<FetchSession>> sessions_;
};

}  // namespace runnel
