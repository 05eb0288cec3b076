#pragma once
// DescribeAcls' and DeleteAcls' filter from its wire fields, and whether it
// can match anything Kafka would accept (an UNKNOWN element is refused).
#include <optional>
#include <string>

#include "security/acl.h"

namespace runnel {

inline security::AclFilter acl_filter_from_wire(int8_t resource_type, const std::optional<std::string>& name,
                                                int8_t pattern_type, const std::optional<std::string>& principal,
                                                const std::optional<std::string>& host, int8_t operation,
                                                int8_t permission) {
  security::AclFilter f;
  f.resource_type = security::resource_type_from_wire(resource_type);
  f.resource_name = name;
  f.pattern_type = security::pattern_type_from_wire(pattern_type);
  f.principal = principal;
  f.host = host;
  f.operation = security::operation_from_wire(operation);
  f.permission = security::permission_from_wire(permission);
  return f;
}

inline bool acl_filter_is_unknown(const security::AclFilter& f) {
  return f.resource_type == security::ResourceType::Unknown || f.pattern_type == security::PatternType::Unknown ||
         f.operation == security::AclOperation::Unknown || f.permission == security::AclPermission::Unknown;
}

}  // namespace runnel
