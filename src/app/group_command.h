#pragma once
// `runnel group list` and `runnel group describe GROUP`: consumer-group
// inspection like kafka-consumer-groups.sh, through the Kafka protocol
// (ListGroups, DescribeGroups, OffsetFetch, ListOffsets) against a running broker.
#include <ostream>
#include <string>

namespace runnel::app {

// Prints GROUP STATE PROTOCOL-TYPE, one group a line (json: an array of
// {group, state, protocol_type}). Returns the exit code.
int group_list(const std::string& bootstrap, bool json, std::ostream& out, std::ostream& err);

// Prints the group's state and, per partition, GROUP TOPIC PARTITION
// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID (json: one
// object with the group's state, its members and their assignments, and a
// partition list with offsets and lag). Returns the exit code.
int group_describe(const std::string& group, const std::string& bootstrap, bool json, std::ostream& out,
                   std::ostream& err);

}  // namespace runnel::app
