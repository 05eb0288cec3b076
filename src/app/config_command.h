#pragma once
// `runnel broker describe-config|alter-config` and `runnel group
// describe-config|alter-config`: dynamic configs from the command line, like
// kafka-configs.sh --entity-type brokers|groups, through DescribeConfigs and
// IncrementalAlterConfigs on BROKER or GROUP resources.
//
// Brokers: --entity-default is `--default`, --entity-name N is `--broker N`.
// The command talks to the --bootstrap broker alone, so a per-broker value
// is read and changed through that broker (Kafka answers another id with
// INVALID_REQUEST). Groups: the group id names the resource; it need not
// exist. Each returns the exit code: 0 when done, 1 otherwise (the broker's
// error on `err`).
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

struct ConfigCommandOptions {
  std::string bootstrap = "127.0.0.1:9092";
  bool json = false;
  // Kafka's ConfigResource.Type: 4 BROKER, 32 GROUP.
  int8_t resource_type = 4;
  // A broker: "" for the cluster-wide default, else a node id. A group: its id.
  std::string resource_name;
};
inline constexpr int8_t kBrokerConfigResource = 4;
inline constexpr int8_t kGroupConfigResource = 32;

// NAME VALUE SOURCE READ_ONLY (SOURCE as Kafka names it: DYNAMIC_BROKER_CONFIG, ...).
int describe_config(const ConfigCommandOptions& o, std::ostream& out, std::ostream& err);

// Sets and removes configs, incrementally.
int alter_config(const ConfigCommandOptions& o, const std::map<std::string, std::string>& set,
                 const std::vector<std::string>& remove, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
