#pragma once
// `runnel group list` and `runnel group describe GROUP`: consumer-group
// inspection like kafka-consumer-groups.sh, through the Kafka protocol
// (ListGroups, DescribeGroups, OffsetFetch, ListOffsets) against a running broker.
#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace runnel::app {

// Prints GROUP STATE PROTOCOL-TYPE, one group a line. Returns the exit code.
int group_list(const std::string& bootstrap, std::ostream& out, std::ostream& err);

// Prints the group's state and, per partition, GROUP TOPIC PARTITION
// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID. Returns the exit code.
int group_describe(const std::string& group, const std::string& bootstrap, std::ostream& out, std::ostream& err);

// The consumer protocol's member assignment (ConsumerProtocolAssignment v0-3):
// version int16, [topic string, [partition int32]], user_data bytes (ignored).
// Throws on malformed input; empty input is an empty assignment.
std::map<std::string, std::vector<int32_t>> decode_consumer_assignment(std::span<const uint8_t> bytes);

}  // namespace runnel::app
