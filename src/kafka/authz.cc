#include "kafka/authz.h"

#include "kafka/broker.h"
#include "security/session.h"

namespace runnel {

std::string_view peer_host(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return peer;
  auto host = peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

bool authorized(const RequestContext& ctx, security::AclOperation op, security::ResourceType type,
                std::string_view name) {
  const auto& authorizer = ctx.broker.authorizer();
  if (!authorizer.enabled() || ctx.session == nullptr) return true;
  return authorizer.authorize(ctx.session->principal, peer_host(ctx.peer), {op, type, name});
}

bool authorized_any(const RequestContext& ctx, security::AclOperation op, security::ResourceType type) {
  const auto& authorizer = ctx.broker.authorizer();
  if (!authorizer.enabled() || ctx.session == nullptr) return true;
  return authorizer.authorize_any(ctx.session->principal, peer_host(ctx.peer), op, type);
}

int32_t authorized_operations(const RequestContext& ctx, security::ResourceType type, std::string_view name) {
  const auto& authorizer = ctx.broker.authorizer();
  if (!authorizer.enabled() || ctx.session == nullptr)
    return security::operations_bit_field(security::supported_operations(type));
  return authorizer.authorized_operations(ctx.session->principal, peer_host(ctx.peer), type, name);
}

bool authorizer_enabled(const RequestContext& ctx) { return ctx.broker.authorizer().enabled(); }

}  // namespace runnel
