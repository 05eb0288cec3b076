#pragma once
// `runnel cluster status`: what a cluster looks like from one broker, through
// the Kafka protocol (DescribeCluster and Metadata): the brokers, the
// controller, and for each partition its leader, leader epoch, replicas, ISR
// and whether it is under-replicated.
#include <ostream>
#include <string>

namespace runnel::app {

// Prints the report (json: {cluster_id, controller_id, brokers: [...],
// partitions: [...]}); returns the exit code (1 when the broker cannot be
// reached).
int cluster_status(const std::string& bootstrap, bool json, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
