// DeleteAcls (key 31): removes the ACL bindings each filter matches and
// lists them, as Kafka's AclApis: ALTER on the cluster is needed (else every
// filter fails with CLUSTER_AUTHORIZATION_FAILED); without an authorizer,
// SECURITY_DISABLED; a filter with an UNKNOWN element fails alone with
// INVALID_REQUEST. Every filter's removal is stored in one change.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/acl_apis.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DeleteAclsResponse> handle_delete_acls(RequestContext& ctx,
                                                                 protocol::DeleteAclsRequest& request) {
  protocol::DeleteAclsResponse response;
  if (auto gate = acl_api_gate(ctx, security::AclOperation::Alter); gate.error != ErrorCode::NONE) {
    for (size_t i = 0; i < request.filters.size(); ++i) {
      auto& r = response.filter_results.emplace_back();
      r.error_code = code(gate.error);
      r.error_message = gate.message;
    }
    co_return response;
  }
  std::vector<std::optional<security::AclFilter>> filters;
  for (const auto& f : request.filters) {
    auto filter = acl_filter_from_wire(f.resource_type_filter, f.resource_name_filter, f.pattern_type_filter,
                                       f.principal_filter, f.host_filter, f.operation, f.permission_type);
    filters.push_back(acl_filter_is_unknown(filter) ? std::nullopt : std::optional(filter));
  }
  // What each filter removed, decided against the set the change starts from
  // (a binding two filters match is listed under both, as Kafka does).
  std::vector<std::vector<security::AclBinding>> removed(filters.size());
  auto remove = [&](const security::AclSet& current) {
    security::AclSet next = current;
    for (size_t i = 0; i < filters.size(); ++i) {
      removed[i].clear();
      if (!filters[i]) continue;
      removed[i] = current.find(*filters[i]);
      next = next.without(*filters[i], nullptr);
    }
    return next;
  };
  std::string message;
  auto error = co_await ctx.broker.update_acls(remove, &message);
  for (size_t i = 0; i < filters.size(); ++i) {
    auto& r = response.filter_results.emplace_back();
    if (!filters[i]) {
      r.error_code = code(ErrorCode::INVALID_REQUEST);
      r.error_message = "The filter contains an UNKNOWN element";
      continue;
    }
    if (error != ErrorCode::NONE) {
      r.error_code = code(error);
      r.error_message = message;
      continue;
    }
    for (const auto& acl : removed[i]) {
      auto& m = r.matching_acls.emplace_back();
      m.resource_type = static_cast<int8_t>(acl.resource_type);
      m.resource_name = acl.resource_name;
      m.pattern_type = static_cast<int8_t>(acl.pattern_type);
      m.principal = acl.principal;
      m.host = acl.host;
      m.operation = static_cast<int8_t>(acl.operation);
      m.permission_type = static_cast<int8_t>(acl.permission);
    }
  }
  co_return response;
}

}  // namespace runnel
