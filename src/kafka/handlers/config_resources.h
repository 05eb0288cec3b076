#pragma once
// What the config handlers (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs, ListConfigResources) share: Kafka's
// ConfigResource.Type ids and whether a DescribeConfigs resource asks for a
// key. Header only; stateless.
#include <cstdint>
#include <string_view>

#include "protocol/messages.h"

namespace runnel::config_resource {

inline constexpr int8_t kTopic = 2, kBroker = 4, kBrokerLogger = 8, kClientMetrics = 16, kGroup = 32;

// Whether `resource` asks for key `name`: its configuration_keys are null
// or empty (every key), or list it.
inline bool wants_key(const protocol::DescribeConfigsRequest::DescribeConfigsResource& resource,
                      std::string_view name) {
  if (!resource.configuration_keys || resource.configuration_keys->empty()) return true;
  for (const auto& k : *resource.configuration_keys)
    if (k == name) return true;
  return false;
}

}  // namespace runnel::config_resource
