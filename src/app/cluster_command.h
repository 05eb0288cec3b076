#pragma once
// `runnel cluster status`: what a cluster looks like from one broker, through
// the Kafka protocol (DescribeCluster and Metadata): the brokers, the
// controller, and for each partition its leader, leader epoch, replicas, ISR
// and whether it is under-replicated. `runnel cluster elect-leaders`: a
// preferred or unclean leader election through ElectLeaders, like
// kafka-leader-election.sh.
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

// Prints the report (json: {cluster_id, controller_id, brokers: [...],
// partitions: [...]}); returns the exit code (1 when the broker cannot be
// reached).
int cluster_status(const std::string& bootstrap, bool json, std::ostream& out, std::ostream& err);

// Elects leaders for `partitions` ("TOPIC" for all its partitions, or
// "TOPIC:P"; none: every partition, as --all-topic-partitions), preferred
// or `unclean`. Prints each partition's outcome (TOPIC PARTITION RESULT; json:
// [{topic, partition, error, message}]): elected, or the broker's reason
// (ELECTION_NOT_NEEDED is "already elected", as kafka-leader-election.sh
// says "Valid replica already elected"). Exit code 0 when every partition
// was elected or needed none, 1 otherwise.
int cluster_elect_leaders(const std::string& bootstrap, const std::vector<std::string>& partitions, bool unclean,
                          bool json, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
