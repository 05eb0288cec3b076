#pragma once
// `runnel group list` and `runnel group describe GROUP`: consumer-group
// inspection like kafka-consumer-groups.sh, through the Kafka protocol
// (ListGroups, DescribeGroups, OffsetFetch, ListOffsets) against a running broker.
#include <ostream>
#include <string>

namespace runnel::app {

// Prints GROUP STATE PROTOCOL-TYPE, one group a line. Returns the exit code.
int group_list(const std::string& bootstrap, std::ostream& out, std::ostream& err);

// Prints the group's state and, per partition, GROUP TOPIC PARTITION
// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID. Returns the exit code.
int group_describe(const std::string& group, const std::string& bootstrap, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
