#pragma once
// The session timeout and heartbeat interval each consumer group's
// consumer-protocol members get: the broker's group.consumer.* defaults, or
// the group's own values (Kafka 4's GROUP config resource,
// config/group_config.h). Kafka reads them at every heartbeat, so a change
// reaches a member at its next one.
//
// Thread-safe: the Broker replaces the table from whichever thread installs
// the dynamic configs; each shard's coordinator reads it.
#include <map>
#include <mutex>
#include <string>

#include "config/group_config.h"

namespace runnel::group {

class GroupTimeoutTable {
 public:
  void set(GroupTimeouts defaults, std::map<std::string, GroupTimeouts> per_group);
  GroupTimeouts of(const std::string& group_id) const;

 private:
  mutable std::mutex mu_;
  GroupTimeouts defaults_;
  std::map<std::string, GroupTimeouts> per_group_;
};

}  // namespace runnel::group
