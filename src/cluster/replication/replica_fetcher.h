#pragma once
// A follower's fetcher: one per (shard, leader broker). It copies the batches
// of the partitions this shard follows from that leader, with Fetch v12
// requests carrying replica_id (this node), each partition's log end as its
// fetch offset, the epoch of its last batch (so that the leader can answer a
// diverging epoch, KIP-595, and the follower truncate by it) and the offset
// it has fdatasync'd (runnel's tagged field, for the leader's durable high
// watermark). After appending a response it fetches again while its sync
// runs (pipelined; the leader answers a fetch that carries an unsynced end at
// once, and the follower reports the sync in a later fetch); after a small
// response it first waits briefly for that sync, so that the next fetch
// reports it. The leader parks fetches that are caught up and synced, so an
// idle fetcher costs one request per replica.fetch.wait.max.ms.
// It fetches in a fetch session (KIP-227, kafka/fetch_session.h has the
// leader's side): after a full request opens it, a request names only the
// partitions whose fetch state changed and forgets those no longer
// fetched, and the answer carries only partitions with news, so a round
// costs what changed, not how many partitions this shard follows.
//
// Thread-safety: none; runs on its shard and touches partitions only there.
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "base/types.h"
#include "cluster/replication/broker_connection.h"
#include "cluster/replication/follower_replica.h"
#include "cluster/replication/replication_throttle.h"

namespace runnel::cluster::replication {

class ReplicaFetcher {
 public:
  struct Options {
    NodeId self = kNoNode;    // replica_id
    NodeId leader = kNoNode;  // the broker fetched from
    int32_t max_wait_ms = 500;
    int32_t partition_max_bytes = 1 << 20;
    std::chrono::milliseconds backoff{200};
    // After a failed login the fetcher waits twice as long each time, up to
    // this (Kafka's reconnect.backoff.max.ms plays the same part).
    std::chrono::milliseconds auth_backoff_max{5000};
    // The login for the leader's inter-broker listener, when it uses SASL.
    std::optional<InterBrokerSasl> sasl;
    // The TLS client context, when that listener uses TLS.
    std::shared_ptr<const security::TlsContextSource> tls;
    // The broker's replication throttle (its follower side), or nullptr.
    ReplicationThrottle* throttle = nullptr;
    // Changes whenever a replica of this shard is opened, replaced or
    // closed (PartitionManager's count, read on this shard only): until it
    // does, a replica found once is the one Lookup would find again, so a
    // fetch of many partitions looks each up once, not every round.
    // nullptr: looked up every time.
    const uint64_t* replicas_generation = nullptr;
  };
  struct Endpoint {
    std::string host;
    uint16_t port = 0;
  };
  // The leader's address now (it may move between connections).
  using Resolve = std::function<std::optional<Endpoint>(NodeId node)>;
  // This shard's replica of a partition, or nullptr once it is gone.
  using Lookup = std::function<FollowerReplica*(const std::string& topic, PartitionId partition)>;

  ReplicaFetcher(asio::io_context& io, Options options, Resolve resolve, Lookup lookup);
  ~ReplicaFetcher();
  ReplicaFetcher(const ReplicaFetcher&) = delete;
  ReplicaFetcher& operator=(const ReplicaFetcher&) = delete;

  void add(const std::string& topic, PartitionId partition);
  void remove(const std::string& topic, PartitionId partition);
  bool empty() const;
  // Starts the fetch loop on `io`; stop() (or the destructor) ends it: the
  // loop holds its own shared state and exits at its next step.
  void start();
  void stop();

 private:
  using Key = std::pair<std::string, PartitionId>;
  struct Entry;
  struct State;
  static asio::awaitable<void> run(std::shared_ptr<State> state);
  static asio::awaitable<void> fetch_once(State& state);
  std::shared_ptr<State> state_;
};

}  // namespace runnel::cluster::replication
