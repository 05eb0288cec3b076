#pragma once
// The replication throttle of a move, as kafka-reassign-partitions.sh
// --execute --throttle sets it and --verify removes it (KIP-73): each topic's
// leader.replication.throttled.replicas names its moving partitions' current
// replicas, follower.replication.throttled.replicas the replicas being
// added; every broker of the move gets leader.replication.throttled.rate and
// follower.replication.throttled.rate, each through its own listener (a
// broker's own value is changed through that broker, as in Kafka).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/reassign_command.h"
#include "protocol/messages.h"

namespace runnel::app {

struct ThrottlePlan {
  // topic -> (leader list, follower list), "partition:broker,..."
  std::map<std::string, std::pair<std::string, std::string>> topics;
  std::set<int32_t> brokers;  // every broker holding or receiving a moving replica
};

// What `specs` throttle, given the cluster's replicas in `metadata` less the
// replicas `adding` names for the moves in progress ((topic, partition) ->
// node ids): a move asked for again keeps its throttle. Partitions that do
// not move (the target is their replica set) are left out.
ThrottlePlan plan_throttle(const protocol::MetadataResponse& metadata,
                           const std::map<std::pair<std::string, int32_t>, std::vector<int32_t>>& adding,
                           const std::vector<ReassignmentSpec>& specs);

// Sets the plan's replica lists and `rate` (bytes/s) on its brokers; the
// first failure as "what: error", or "" when all succeeded.
std::string apply_throttle(const std::string& bootstrap, const protocol::MetadataResponse& metadata,
                           const ThrottlePlan& plan, int64_t rate);

// Sets replica.alter.log.dirs.io.max.bytes.per.second to `rate` on each of
// `brokers` (those with a replica moving between its log directories), as
// --replica-alter-log-dirs-throttle does; the first failure, or "".
std::string apply_log_dir_throttle(const protocol::MetadataResponse& metadata, const std::set<int32_t>& brokers,
                                   int64_t rate);

// Removes the rates (both replication sides and the log directory copies')
// from every broker in `metadata` and the replica lists from `topics`, as
// --verify does once the moves are done; the first failure as "what:
// error", or "".
std::string clear_throttle(const std::string& bootstrap, const protocol::MetadataResponse& metadata,
                           const std::set<std::string>& topics);

}  // namespace runnel::app
