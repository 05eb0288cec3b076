#pragma once
// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs on GROUP
// resources (Kafka 4, KIP-848; kafka-configs.sh --entity-type groups): a
// group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms
// (config/group_config.h) with their source and synonyms; changes checked
// in full as Kafka's GroupConfig.validate does, then kept in the dynamic
// broker config document by Broker::update_dynamic_configs. A group need
// not exist to have configs, as in Kafka. Called from configs.cc on any
// shard.
#include <asio.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/error_code.h"
#include "kafka/broker.h"
#include "kafka/handlers/broker_configs.h"
#include "protocol/messages.h"

namespace runnel {

// Fills `result` (error or configs) for one GROUP resource.
void describe_group_resource(Broker& broker, const protocol::DescribeConfigsRequest::DescribeConfigsResource& resource,
                             bool include_synonyms, bool include_documentation,
                             protocol::DescribeConfigsResponse::DescribeConfigsResult& result);

// Applies `changes` to group `group` (AlterConfigs: `replace` its whole set;
// IncrementalAlterConfigs: one by one). The error and its message (NONE:
// done, or valid with validate_only).
asio::awaitable<std::pair<ErrorCode, std::string>> alter_group_resource(Broker& broker, const std::string& group,
                                                                        const std::vector<BrokerConfigChange>& changes,
                                                                        bool replace, bool validate_only);

}  // namespace runnel
