#include "app/reassign_throttle.h"

#include <algorithm>

#include "app/admin_client.h"

namespace runnel::app {
namespace {

constexpr int8_t kTopicResource = 2, kBrokerResource = 4;
constexpr const char* kLeaderRate = "leader.replication.throttled.rate";
constexpr const char* kFollowerRate = "follower.replication.throttled.rate";
constexpr const char* kLogDirRate = "replica.alter.log.dirs.io.max.bytes.per.second";
constexpr const char* kLeaderReplicas = "leader.replication.throttled.replicas";
constexpr const char* kFollowerReplicas = "follower.replication.throttled.replicas";

// One IncrementalAlterConfigs of one resource through `address` (SET `set`,
// DELETE `remove`); "" or the error.
std::string alter(const std::string& address, int8_t type, const std::string& name,
                  const std::map<std::string, std::string>& set, const std::vector<std::string>& remove = {}) {
  AdminClient client(address);
  auto resp = client.incremental_alter_configs(type, name, set, remove);
  if (resp.responses.empty()) return "empty IncrementalAlterConfigs response";
  const auto& result = resp.responses.front();
  return result.error_code == 0 ? "" : error_text(result.error_code, result.error_message);
}

// Sets `set` on each of `brokers`, each through its own listener (a
// broker's own value is changed through that broker, as in Kafka); the
// first failure, or "".
std::string alter_brokers(const protocol::MetadataResponse& metadata, const std::set<int32_t>& brokers,
                          const std::map<std::string, std::string>& set) {
  const auto addresses = broker_addresses(metadata);
  for (int32_t node : brokers) {
    const auto address = addresses.find(node);
    if (address == addresses.end()) return "broker " + std::to_string(node) + ": not registered";
    if (auto error = alter(address->second, kBrokerResource, std::to_string(node), set); !error.empty())
      return "broker " + std::to_string(node) + ": " + error;
  }
  return "";
}

void append(std::string& list, int32_t partition, int32_t broker) {
  list += (list.empty() ? "" : ",") + std::to_string(partition) + ":" + std::to_string(broker);
}

}  // namespace

ThrottlePlan plan_throttle(const protocol::MetadataResponse& metadata,
                           const std::map<std::pair<std::string, int32_t>, std::vector<int32_t>>& adding,
                           const std::vector<ReassignmentSpec>& specs) {
  ThrottlePlan plan;
  for (const auto& spec : specs) {
    auto t = std::find_if(metadata.topics.begin(), metadata.topics.end(),
                          [&](const auto& t) { return t.name.value_or("") == spec.topic; });
    if (t == metadata.topics.end()) continue;
    auto p = std::find_if(t->partitions.begin(), t->partitions.end(),
                          [&](const auto& p) { return p.partition_index == spec.partition; });
    if (p == t->partitions.end()) continue;
    // The replicas before the move in progress, if any.
    std::vector<int32_t> original;
    const auto moving = adding.find({spec.topic, spec.partition});
    for (int32_t b : p->replica_nodes)
      if (moving == adding.end() || std::find(moving->second.begin(), moving->second.end(), b) == moving->second.end())
        original.push_back(b);
    auto current = original;
    auto target = spec.replicas;
    std::sort(current.begin(), current.end());
    std::sort(target.begin(), target.end());
    if (current == target) continue;
    auto& [leaders, followers] = plan.topics[spec.topic];
    for (int32_t b : original) {
      append(leaders, spec.partition, b);
      plan.brokers.insert(b);
    }
    for (int32_t b : spec.replicas) {
      plan.brokers.insert(b);
      if (!std::binary_search(current.begin(), current.end(), b)) append(followers, spec.partition, b);
    }
  }
  return plan;
}

std::string apply_throttle(const std::string& bootstrap, const protocol::MetadataResponse& metadata,
                           const ThrottlePlan& plan, int64_t rate) {
  for (const auto& [topic, lists] : plan.topics) {
    std::map<std::string, std::string> set{{kLeaderReplicas, lists.first}};
    if (!lists.second.empty()) set[kFollowerReplicas] = lists.second;
    if (auto error = alter(bootstrap, kTopicResource, topic, set); !error.empty())
      return "topic " + topic + ": " + error;
  }
  const std::string value = std::to_string(rate);
  return alter_brokers(metadata, plan.brokers, {{kLeaderRate, value}, {kFollowerRate, value}});
}

std::string apply_log_dir_throttle(const protocol::MetadataResponse& metadata, const std::set<int32_t>& brokers,
                                   int64_t rate) {
  return alter_brokers(metadata, brokers, {{kLogDirRate, std::to_string(rate)}});
}

std::string clear_throttle(const std::string& bootstrap, const protocol::MetadataResponse& metadata,
                           const std::set<std::string>& topics) {
  for (const auto& [id, address] : broker_addresses(metadata)) {
    const std::string node = std::to_string(id);
    if (auto error = alter(address, kBrokerResource, node, {}, {kLeaderRate, kFollowerRate, kLogDirRate});
        !error.empty())
      return "broker " + node + ": " + error;
  }
  for (const auto& topic : topics)
    if (auto error = alter(bootstrap, kTopicResource, topic, {}, {kLeaderReplicas, kFollowerReplicas}); !error.empty())
      return "topic " + topic + ": " + error;
  return "";
}

}  // namespace runnel::app
