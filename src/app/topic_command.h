#pragma once
// `runnel topic list|describe|create|delete|alter-config|add-partitions`:
// topic administration from the command line, like rpk topic and
// kafka-topics.sh, through the Kafka protocol (Metadata, DescribeConfigs,
// ListOffsets, CreateTopics, DeleteTopics, IncrementalAlterConfigs,
// CreatePartitions), so it works against any broker of a cluster. Tables by
// default, JSON with `json = true`. Every function returns the exit code: 0
// when everything asked for was done, 1 otherwise (with the broker's error
// on `err`).
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

struct TopicCommandOptions {
  std::string bootstrap = "127.0.0.1:9092";
  bool json = false;
};

// NAME PARTITIONS REPLICAS (internal topics only with `internal`).
int topic_list(const TopicCommandOptions& o, bool internal, std::ostream& out, std::ostream& err);

// Summary, the configs that are not defaults (all with `all_configs`), and
// each partition's leader, epoch, replicas, ISR and log start/end offsets.
int topic_describe(const TopicCommandOptions& o, const std::string& topic, bool all_configs, std::ostream& out,
                   std::ostream& err);

// partitions/replication_factor -1: the broker's defaults.
int topic_create(const TopicCommandOptions& o, const std::vector<std::string>& topics, int32_t partitions,
                 int16_t replication_factor, const std::map<std::string, std::string>& configs, std::ostream& out,
                 std::ostream& err);

int topic_delete(const TopicCommandOptions& o, const std::vector<std::string>& topics, std::ostream& out,
                 std::ostream& err);

// Sets and removes (back to the default) topic configs, incrementally.
int topic_alter_config(const TopicCommandOptions& o, const std::string& topic,
                       const std::map<std::string, std::string>& set, const std::vector<std::string>& remove,
                       std::ostream& out, std::ostream& err);

// Adds `count` partitions to the topic (as rpk topic add-partitions -n).
int topic_add_partitions(const TopicCommandOptions& o, const std::string& topic, int32_t count, std::ostream& out,
                         std::ostream& err);

// "key=value" strings into a map; throws std::invalid_argument on one without '='.
std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& items);

}  // namespace runnel::app
