// DescribeUserScramCredentials (key 50, KIP-554): which SCRAM mechanisms, with
// how many iterations, each user has; never the salts or keys. An empty or
// null list describes every user. With an authorizer the principal needs
// DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED); without one any
// client may ask, as with Kafka.
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeUserScramCredentialsResponse> handle_describe_user_scram_credentials(
    RequestContext& ctx, protocol::DescribeUserScramCredentialsRequest& request) {
  protocol::DescribeUserScramCredentialsResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::Describe)) {  // Kafka's check
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    response.error_message = "Cluster authorization failed.";
    co_return response;
  }
  auto users = ctx.broker.credentials().snapshot();
  auto describe = [&](const std::string& name, const security::UserCredentials& credentials) {
    auto& result = response.results.emplace_back();
    result.user = name;
    for (const auto& [mechanism, c] : credentials) {
      auto& info = result.credential_infos.emplace_back();
      info.mechanism = security::mechanism_type(mechanism);
      info.iterations = c.iterations;
    }
  };
  if (!request.users || request.users->empty()) {
    for (const auto& [name, credentials] : users) describe(name, credentials);
    co_return response;
  }
  std::set<std::string> seen, duplicates;
  for (const auto& u : *request.users)
    if (!seen.insert(u.name).second) duplicates.insert(u.name);
  std::set<std::string> answered;
  for (const auto& u : *request.users) {
    if (!answered.insert(u.name).second) continue;
    if (duplicates.count(u.name)) {
      auto& result = response.results.emplace_back();
      result.user = u.name;
      result.error_code = code(ErrorCode::DUPLICATE_RESOURCE);
      result.error_message = "Cannot describe SCRAM credentials for the same user twice in a single request: " + u.name;
      continue;
    }
    auto it = users.find(u.name);
    if (it == users.end()) {
      auto& result = response.results.emplace_back();
      result.user = u.name;
      result.error_code = code(ErrorCode::RESOURCE_NOT_FOUND);
      result.error_message = "Attempt to describe a user credential that does not exist: " + u.name;
      continue;
    }
    describe(it->first, it->second);
  }
  co_return response;
}

}  // namespace runnel
