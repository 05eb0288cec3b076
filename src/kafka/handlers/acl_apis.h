#pragma once
// What the three ACL APIs share: the check each makes before anything else,
// and DescribeAcls' and DeleteAcls' filter from its wire fields with whether
// it can match anything Kafka would accept (an UNKNOWN element is refused).
#include <optional>
#include <string>

#include "kafka/authz.h"
#include "security/acl.h"

namespace runnel {

// The ACL APIs' gate, as Kafka's AclApis: `op` on the cluster (DESCRIBE to
// list, ALTER to change), else CLUSTER_AUTHORIZATION_FAILED; then an
// authorizer, else SECURITY_DISABLED. NONE lets the request through.
struct AclGate {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};
inline AclGate acl_api_gate(const RequestContext& ctx, security::AclOperation op) {
  if (!authorized_cluster(ctx, op)) return {ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed."};
  // Kafka words it differently for DescribeAcls.
  if (!authorizer_enabled(ctx))
    return {ErrorCode::SECURITY_DISABLED, op == security::AclOperation::Describe
                                              ? "No Authorizer is configured on the broker"
                                              : "No Authorizer is configured."};
  return {};
}

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
