#pragma once
// The inputs of `runnel cluster reassign`: kafka-reassign-partitions.sh's
// plan file and topics-to-move file, and the "TOPIC:P=R1,R2" and "TOPIC[:P]"
// arguments. They read an operator's files, so they are fuzzed
// (tests/fuzz/fuzz_reassignment_plan.cc): whatever the bytes, each returns
// or throws std::invalid_argument saying what is wrong.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace runnel::app {

// One partition's target: replica node ids, the first the preferred leader,
// and for each replica the log directory it should live in on its broker
// (absolute path, or "any": wherever the broker places it; empty when the
// plan gives none).
struct ReassignmentSpec {
  std::string topic;
  int32_t partition = 0;
  std::vector<int32_t> replicas;
  std::vector<std::string> log_dirs;
};

// Parses kafka-reassign-partitions.sh's file
// ({"version":1,"partitions":[{"topic","partition","replicas":[...],
// "log_dirs":[...]}]}). "log_dirs", when present, must have one entry per
// replica, as the tool requires.
std::vector<ReassignmentSpec> parse_reassignment_json(const std::string& text);
// Parses "TOPIC:P=R1,R2,..." ("TOPIC:P" alone: no replicas, for --cancel).
ReassignmentSpec parse_reassignment_spec(const std::string& spec);
// Parses kafka-reassign-partitions.sh's --topics-to-move-json-file
// ({"version":1,"topics":[{"topic":"name"}]}): the topic names.
std::vector<std::string> parse_topics_to_move_json(const std::string& text);
// "TOPIC" or "TOPIC:P" arguments into {topic: [partitions]} (an empty list:
// all of the topic's partitions).
std::map<std::string, std::vector<int32_t>> parse_partition_filter(const std::vector<std::string>& specs);

}  // namespace runnel::app
