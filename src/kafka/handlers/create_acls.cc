// CreateAcls (key 30): adds ACL bindings, as Kafka's AclApis: the principal
// needs ALTER on the cluster (else every creation fails with
// CLUSTER_AUTHORIZATION_FAILED); without an authorizer every creation fails
// with SECURITY_DISABLED; an invalid binding fails alone with
// INVALID_REQUEST. The valid ones are stored together (in the data dir, or in
// etcd for the whole cluster).
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/acl_apis.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

using security::AclBinding;

std::optional<std::string> creation_problem(const AclBinding& acl) {
  if (acl.resource_type == security::ResourceType::Cluster && acl.resource_name != security::kClusterResourceName)
    return std::string("The only valid name for the CLUSTER resource is ") +
           std::string(security::kClusterResourceName);
  if (acl.resource_name.empty()) return std::string("Invalid empty resource name");
  return security::validate_new_acl(acl);
}

}  // namespace

asio::awaitable<protocol::CreateAclsResponse> handle_create_acls(RequestContext& ctx,
                                                                 protocol::CreateAclsRequest& request) {
  protocol::CreateAclsResponse response;
  if (auto gate = acl_api_gate(ctx, security::AclOperation::Alter); gate.error != ErrorCode::NONE) {
    for (size_t i = 0; i < request.creations.size(); ++i) {
      auto& r = response.results.emplace_back();
      r.error_code = code(gate.error);
      r.error_message = gate.message;
    }
    co_return response;
  }
  std::vector<AclBinding> valid;
  std::vector<std::optional<std::string>> problems;
  for (const auto& c : request.creations) {
    AclBinding acl;
    acl.resource_type = security::resource_type_from_wire(c.resource_type);
    acl.resource_name = c.resource_name;
    acl.pattern_type = security::pattern_type_from_wire(c.resource_pattern_type);
    acl.principal = c.principal;
    acl.host = c.host;
    acl.operation = security::operation_from_wire(c.operation);
    acl.permission = security::permission_from_wire(c.permission_type);
    auto problem = creation_problem(acl);
    if (!problem) valid.push_back(std::move(acl));
    problems.push_back(std::move(problem));
  }
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  if (!valid.empty()) {
    auto add = [&](const security::AclSet& current) { return current.with(valid); };
    error = co_await ctx.broker.update_acls(add, &message);
  }
  for (const auto& problem : problems) {
    auto& r = response.results.emplace_back();
    if (problem) {
      r.error_code = code(ErrorCode::INVALID_REQUEST);
      r.error_message = *problem;
    } else if (error != ErrorCode::NONE) {
      r.error_code = code(error);
      r.error_message = message;
    }
  }
  co_return response;
}

}  // namespace runnel
