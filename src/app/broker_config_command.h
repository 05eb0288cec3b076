#pragma once
// `runnel broker describe-config|alter-config`: the dynamic broker configs
// from the command line, like kafka-configs.sh --entity-type brokers
// (--entity-default: `--default`; --entity-name N: `--broker N`), through
// DescribeConfigs and IncrementalAlterConfigs on BROKER resources. The
// command talks to the --bootstrap broker alone, so a per-broker value is
// read and changed through that broker (Kafka answers another id with
// INVALID_REQUEST). Each returns the exit code: 0 when done, 1 otherwise
// (the broker's error on `err`).
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

struct BrokerConfigOptions {
  std::string bootstrap = "127.0.0.1:9092";
  bool json = false;
  // The resource name: "" for the cluster-wide default, else a node id.
  std::string broker;
};

// NAME VALUE SOURCE READ_ONLY (SOURCE as Kafka names it: DYNAMIC_BROKER_CONFIG, ...).
int broker_describe_config(const BrokerConfigOptions& o, std::ostream& out, std::ostream& err);

// Sets and removes dynamic broker configs, incrementally.
int broker_alter_config(const BrokerConfigOptions& o, const std::map<std::string, std::string>& set,
                        const std::vector<std::string>& remove, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
