#include "group/group_timeouts.h"

namespace runnel::group {

void GroupTimeoutTable::set(GroupTimeouts defaults, std::map<std::string, GroupTimeouts> per_group) {
  std::lock_guard lock(mu_);
  defaults_ = defaults;
  per_group_ = std::move(per_group);
}

GroupTimeouts GroupTimeoutTable::of(const std::string& group_id) const {
  std::lock_guard lock(mu_);
  auto it = per_group_.find(group_id);
  return it == per_group_.end() ? defaults_ : it->second;
}

}  // namespace runnel::group
