#pragma once
// The authorization checks handlers make (Kafka's AuthHelper): whether the
// principal of the request's connection, from its peer address, may do an
// operation on a resource, under the broker's authorizer. Always true when
// no authorizer is configured, and for requests without a session (internal
// callers).
//
// Thread-safety: as the Authorizer (any thread).
#include <string>
#include <string_view>

#include "kafka/request_context.h"
#include "security/acl.h"

namespace runnel {

// The host part of "ADDRESS:PORT" (the connection's peer).
std::string_view peer_host(std::string_view peer);

bool authorized(const RequestContext& ctx, security::AclOperation op, security::ResourceType type,
                std::string_view name);
inline bool authorized_topic(const RequestContext& ctx, security::AclOperation op, std::string_view topic) {
  return authorized(ctx, op, security::ResourceType::Topic, topic);
}
inline bool authorized_group(const RequestContext& ctx, security::AclOperation op, std::string_view group) {
  return authorized(ctx, op, security::ResourceType::Group, group);
}
inline bool authorized_cluster(const RequestContext& ctx, security::AclOperation op) {
  return authorized(ctx, op, security::ResourceType::Cluster, security::kClusterResourceName);
}
inline bool authorized_txn(const RequestContext& ctx, security::AclOperation op, std::string_view transactional_id) {
  return authorized(ctx, op, security::ResourceType::TransactionalId, transactional_id);
}
// Kafka's authorizeByResourceType: `op` on at least one resource of the type.
bool authorized_any(const RequestContext& ctx, security::AclOperation op, security::ResourceType type);

// Kafka's AuthHelper.authorizedOperations for the request's principal: the
// bit field of the operations it may do on the resource (every supported one
// without an authorizer or session). Handlers set it only when the request
// asks (include_*_authorized_operations); else the field keeps
// security::kAuthorizedOperationsOmitted.
int32_t authorized_operations(const RequestContext& ctx, security::ResourceType type, std::string_view name);
inline int32_t cluster_authorized_operations(const RequestContext& ctx) {
  // Kafka: 0 without DESCRIBE on the cluster, whatever else is allowed.
  if (!authorized_cluster(ctx, security::AclOperation::Describe)) return 0;
  return authorized_operations(ctx, security::ResourceType::Cluster, security::kClusterResourceName);
}

// Whether an authorizer is configured (the ACL APIs answer SECURITY_DISABLED
// otherwise).
bool authorizer_enabled(const RequestContext& ctx);

}  // namespace runnel
