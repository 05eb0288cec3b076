#pragma once
// The values runnel keeps in etcd (DESIGN.md, "Cluster"), as JSON, with their
// decoders. Decoders read what another broker (or an operator with etcdctl)
// wrote, so they accept any JSON and answer nullopt for anything that is not
// a well-formed record; they never throw.
//
// Thread-safety: value types and pure functions.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::cluster::metadata {

// brokers/<node-id>: a live broker, written under its lease. Its epoch is the
// key's create revision (a broker that restarts gets a larger one), which is
// not part of the value.
struct BrokerRecord {
  int32_t node_id = -1;
  std::string host;
  int32_t port = 0;
  std::string rack;  // broker.rack; empty when unset
  int64_t epoch = 0;
  // Every listener's advertised endpoint, so that Metadata answers a client
  // with the endpoints of the listener it came in on. host/port above are the
  // inter-broker listener's. Empty in records of older runnel versions.
  struct Listener {
    std::string name;
    std::string host;
    int32_t port = 0;
    bool operator==(const Listener&) const = default;
  };
  std::vector<Listener> listeners;
  // The admin listener (runnel.admin.listen: the console, /metrics, the REST
  // proxy), so that the console of one broker can show the others' metrics.
  // Absent when it is off or did not start, and in older records.
  struct AdminEndpoint {
    std::string scheme;  // "http" or "https"
    std::string host;
    int32_t port = 0;
    bool operator==(const AdminEndpoint&) const = default;
  };
  std::optional<AdminEndpoint> admin;
  // In controlled shutdown (KRaft's BrokerRegistration.inControlledShutdown):
  // the broker is stopping cleanly and waits for the controller to move its
  // leaderships and take it out of the ISRs. It leads nothing new, joins no
  // ISR and gets no new replicas meanwhile. False in older records.
  bool in_controlled_shutdown = false;

  bool operator==(const BrokerRecord&) const = default;
};

std::string encode_broker(const BrokerRecord& broker);
std::optional<BrokerRecord> decode_broker(std::string_view json);

// controller: which broker holds the controller role, written under its lease
// by the broker that won the election.
struct ControllerRecord {
  int32_t node_id = -1;
};

std::string encode_controller(const ControllerRecord& controller);
std::optional<ControllerRecord> decode_controller(std::string_view json);

// A partition's move to other brokers in progress (KIP-455): its replicas
// are then the target followed by the replicas being removed; `adding` are
// the target's replicas it did not have, `removing` those not in the target.
struct PartitionReassignment {
  std::vector<int32_t> adding;
  std::vector<int32_t> removing;

  bool operator==(const PartitionReassignment&) const = default;
};

// topics/<name>: a topic as the cluster knows it. Written once at creation
// (and when partitions are added, configs change or replicas move); the
// replicas of each partition, the first one its preferred leader.
struct TopicRecord {
  std::array<uint8_t, 16> id{};
  std::vector<std::vector<int32_t>> replicas;  // [partition] -> node ids
  std::map<std::string, std::string> configs;  // topic config overrides
  bool internal = false;
  // The partitions being moved (AlterPartitionReassignments), by index.
  std::map<int32_t, PartitionReassignment> reassignments;

  bool operator==(const TopicRecord&) const = default;
};

std::string encode_topic(const TopicRecord& topic);
std::optional<TopicRecord> decode_topic(std::string_view json);

// partitions/<topic>/<p>: who leads the partition, since which leader epoch,
// and which replicas are in sync. Absent until the first change: a partition
// starts with its preferred leader, epoch 0 and every replica in sync
// (PartitionState::initial). Every write compares the key's mod revision
// (Kafka's zkVersion), so a stale writer cannot overwrite newer state.
struct PartitionState {
  int32_t leader = -1;  // -1: offline
  int32_t leader_epoch = 0;
  std::vector<int32_t> isr;
  int32_t partition_epoch = 0;  // bumped by every change, ISR changes included
  int64_t mod_revision = 0;     // the key's, not part of the value; 0 when implicit
  // The leader's broker epoch (its registration's create revision) when it
  // got `leader_epoch`; 0: unknown. A leader registered again since (a
  // restart, or a lease that expired) may have lost what it appended in this
  // epoch, unsynced before a power cut, while its followers kept it: it leads
  // on only once the controller has given it a new epoch (Kafka's controller
  // does the same for a broker that registers again).
  int64_t leader_broker_epoch = 0;

  static PartitionState initial(const std::vector<int32_t>& replicas);
  bool operator==(const PartitionState&) const = default;
};

std::string encode_partition_state(const PartitionState& state);
std::optional<PartitionState> decode_partition_state(std::string_view json);

// producer-ids: `{"next_block": N}`, the first producer id not yet reserved
// by any broker (cluster/producer_ids.h). Absent: 0. Every reservation
// compares the key's mod revision (or its absence), so no block is handed
// to two brokers.
std::string encode_producer_ids(int64_t next_block);
std::optional<int64_t> decode_producer_ids(std::string_view json);

}  // namespace runnel::cluster::metadata
