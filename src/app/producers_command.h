#pragma once
// `runnel producers list [--topic T]` and `runnel producers describe TOPIC
// [--partition P]`: the active idempotent and transactional producers of
// partitions, like kafka-transactions.sh describe-producers, through the
// Kafka protocol (Metadata for the leaders, DescribeProducers on each).
#include <optional>
#include <ostream>
#include <string>

namespace runnel::app {

// Prints TOPIC PARTITION PRODUCER-ID EPOCH LAST-SEQUENCE LAST-TIMESTAMP
// COORDINATOR-EPOCH TXN-START-OFFSET, one producer of one partition a line,
// for every partition of `topic` (nullopt: of every topic, internal ones
// included). Returns the exit code.
int producers_list(const std::optional<std::string>& topic, const std::string& bootstrap, std::ostream& out,
                   std::ostream& err);

// The same for one topic, or one of its partitions; an unknown topic or
// partition is an error (exit code 1).
int producers_describe(const std::string& topic, std::optional<int32_t> partition, const std::string& bootstrap,
                       std::ostream& out, std::ostream& err);

}  // namespace runnel::app
