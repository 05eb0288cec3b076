#pragma once
// `runnel cluster log-dirs`: each broker's log directories and the replicas
// in them, as kafka-log-dirs.sh --describe reports them, through
// DescribeLogDirs sent to every broker (or to those of --broker-list).
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

// Prints, for each broker asked (none: every registered broker), each of its
// log directories with its status and the size of every replica there (of
// `topics` only, when given): BROKER DIR STATUS PARTITION SIZE; json:
// kafka-log-dirs.sh's document ({"version":1,"brokers":[{"broker","logDirs":
// [{"logDir","error","partitions":[{"partition":"t-0","size","offsetLag",
// "isFuture"}]}]}]}, an offline directory's error Kafka's exception class
// name). Exit code 1 when a broker or topic is unknown, a broker cannot be
// reached or refuses; the brokers that answered are still printed.
int cluster_log_dirs(const std::string& bootstrap, const std::vector<int32_t>& brokers,
                     const std::vector<std::string>& topics, bool json, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
