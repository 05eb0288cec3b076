#pragma once
// `runnel cluster reassign` and `runnel cluster reassignments`: partition
// reassignment (KIP-455) from the command line, as kafka-reassign-partitions.sh
// --execute / --cancel / --list do it, through AlterPartitionReassignments and
// ListPartitionReassignments (that tool needs a JVM).
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "app/reassignment_plan.h"

namespace runnel::app {

// Starts the moves of `specs` (or, with `cancel`, cancels the moves of their
// partitions); prints each partition's outcome (TOPIC PARTITION RESULT; json:
// [{topic, partition, error, message}]). Exit code 0 when every partition
// was accepted, 1 otherwise.
// With `throttles.replication` (bytes/s; not with `cancel`), first sets the
// move's replication throttle (app/reassign_throttle.h), as
// kafka-reassign-partitions.sh --execute --throttle. The specs' log_dirs
// other than "any" are then sent to each replica's broker
// (AlterReplicaLogDirs, asked again for up to 10 s while a replica being
// added does not exist yet), one more row each ({topic, partition, broker,
// log_dir, error} in json), after `throttles.log_dirs` (bytes/s) is set on
// those brokers (--replica-alter-log-dirs-throttle).
struct ReassignThrottles {
  std::optional<int64_t> replication;
  std::optional<int64_t> log_dirs;
};
int cluster_reassign(const std::string& bootstrap, const std::vector<ReassignmentSpec>& specs, bool cancel,
                     bool allow_replication_factor_change, const ReassignThrottles& throttles, bool json,
                     std::ostream& out, std::ostream& err);

// kafka-reassign-partitions.sh --verify: for each partition of `specs`,
// complete (its replicas are the plan's, in order), in progress, or other
// replicas than the plan's (TOPIC PARTITION STATUS; json: {partitions:
// [{topic, partition, status}], log_dirs, throttle_removed}), and each
// replica the plan names a log directory for (complete, in progress, not
// moving, missing; json log_dirs: [{topic, partition, broker, log_dir,
// status}]); once every partition and replica is
// complete, removes the throttles (every broker's rates, the plan's topics'
// replica lists), as Kafka does. Exit code 0 when all are complete.
int cluster_reassign_verify(const std::string& bootstrap, const std::vector<ReassignmentSpec>& specs, bool json,
                            std::ostream& out, std::ostream& err);

// kafka-reassign-partitions.sh --generate: a plan that places every
// partition of `topics` on `brokers` (registered node ids), as a new topic's
// partitions are placed (Kafka's assignReplicasToBrokers, rack-aware unless
// `ignore_racks`), keeping each partition's replication factor. Prints the
// current assignment and the proposed one, both in the plan file format
// (json: {"current": plan, "proposed": plan}); nothing moves. Exit code 1
// when a topic is unknown or the brokers cannot hold its replicas.
int cluster_reassign_generate(const std::string& bootstrap, const std::vector<std::string>& topics,
                              const std::vector<int32_t>& brokers, bool ignore_racks, bool json, std::ostream& out,
                              std::ostream& err);

// Lists the moves in progress (of `partitions`, "TOPIC" or "TOPIC:P"; none:
// all): TOPIC PARTITION REPLICAS ADDING REMOVING (json: [{topic, partition,
// replicas, adding, removing}]). Exit code 1 when the broker refuses.
int cluster_reassignments(const std::string& bootstrap, const std::vector<std::string>& partitions, bool json,
                          std::ostream& out, std::ostream& err);

}  // namespace runnel::app
