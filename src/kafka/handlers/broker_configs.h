#pragma once
// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs on BROKER
// resources (resource name "": the cluster-wide default; a node id: that
// broker), as Kafka answers them: configs with their source, read-only flag
// and synonyms; changes to the dynamic keys (config/dynamic_broker_config.h)
// validated in full, then kept and applied by Broker::update_dynamic_configs.
// Called from configs.cc on any shard.
#include <asio.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error_code.h"
#include "kafka/broker.h"
#include "protocol/messages.h"

namespace runnel {

// Fills `result` (error or configs) for one BROKER resource.
void describe_broker_resource(Broker& broker, const protocol::DescribeConfigsRequest::DescribeConfigsResource& resource,
                              bool include_synonyms, bool include_documentation,
                              protocol::DescribeConfigsResponse::DescribeConfigsResult& result);

// One change asked for: op 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
struct BrokerConfigChange {
  std::string name;
  std::optional<std::string> value;
  int8_t op = 0;
};

// Applies `changes` to the scope `resource_name` names (AlterConfigs:
// `replace` the scope's whole set; IncrementalAlterConfigs: one by one).
// The error and its message (NONE: done, or valid with validate_only).
asio::awaitable<std::pair<ErrorCode, std::string>> alter_broker_resource(Broker& broker,
                                                                         const std::string& resource_name,
                                                                         const std::vector<BrokerConfigChange>& changes,
                                                                         bool replace, bool validate_only);

}  // namespace runnel
