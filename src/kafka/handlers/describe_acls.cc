// DescribeAcls (key 29): the ACL bindings one filter matches, grouped by
// resource pattern, as Kafka's AclApis: DESCRIBE on the cluster is needed
// (else CLUSTER_AUTHORIZATION_FAILED); without an authorizer,
// SECURITY_DISABLED; a filter with an UNKNOWN element, INVALID_REQUEST.
#include <map>
#include <tuple>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/acl_apis.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeAclsResponse> handle_describe_acls(RequestContext& ctx,
                                                                     protocol::DescribeAclsRequest& request) {
  protocol::DescribeAclsResponse response;
  if (auto gate = acl_api_gate(ctx, security::AclOperation::Describe); gate.error != ErrorCode::NONE) {
    response.error_code = code(gate.error);
    response.error_message = gate.message;
    co_return response;
  }
  auto filter =
      acl_filter_from_wire(request.resource_type_filter, request.resource_name_filter, request.pattern_type_filter,
                           request.principal_filter, request.host_filter, request.operation, request.permission_type);
  if (acl_filter_is_unknown(filter)) {
    response.error_code = code(ErrorCode::INVALID_REQUEST);
    response.error_message = "The filter contains an UNKNOWN element";
    co_return response;
  }
  std::map<std::tuple<int8_t, std::string, int8_t>, std::vector<protocol::DescribeAclsResponse::AclDescription>>
      by_resource;
  for (const auto& acl : ctx.broker.authorizer().acls()->find(filter)) {
    auto& list =
        by_resource[{static_cast<int8_t>(acl.resource_type), acl.resource_name, static_cast<int8_t>(acl.pattern_type)}];
    auto& d = list.emplace_back();
    d.principal = acl.principal;
    d.host = acl.host;
    d.operation = static_cast<int8_t>(acl.operation);
    d.permission_type = static_cast<int8_t>(acl.permission);
  }
  for (auto& [key, acls] : by_resource) {
    auto& r = response.resources.emplace_back();
    r.resource_type = std::get<0>(key);
    r.resource_name = std::get<1>(key);
    r.pattern_type = std::get<2>(key);
    r.acls = std::move(acls);
  }
  co_return response;
}

}  // namespace runnel
