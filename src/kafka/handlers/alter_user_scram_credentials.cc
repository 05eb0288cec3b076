// AlterUserScramCredentials (key 51, KIP-554): adds, replaces and deletes
// users' SCRAM credentials. The client sends the salted password, never the
// password; the broker keeps StoredKey and ServerKey derived from it. Errors
// are per user, with Kafka's codes and messages; a user with any invalid
// change gets none of its changes. One request's changes are written at once:
// on a single node to the credential file, in a cluster to etcd's
// `scram-credentials` key, which every broker's watch installs (new
// authentications on any broker see them); connections already authenticated
// stay so.
//
// With an authorizer the principal needs ALTER on the cluster (else every
// user fails with CLUSTER_AUTHORIZATION_FAILED); without one any client may
// alter credentials, as with Kafka. The file write (with fsync) runs on
// the shard thread: it is rare and small; the etcd write on the broker's
// control pool.
#include <map>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

struct Problem {
  ErrorCode error;
  std::string message;
};

std::optional<Problem> check_name_and_mechanism(const std::string& name, int8_t mechanism) {
  if (name.empty()) return Problem{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Username must not be empty"};
  if (!security::mechanism_from_type(mechanism))
    return Problem{ErrorCode::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism"};
  return std::nullopt;
}

}  // namespace

asio::awaitable<protocol::AlterUserScramCredentialsResponse> handle_alter_user_scram_credentials(
    RequestContext& ctx, protocol::AlterUserScramCredentialsRequest& request) {
  protocol::AlterUserScramCredentialsResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::Alter)) {  // Kafka's check: every user refused
    std::set<std::string> users;
    for (const auto& d : request.deletions) users.insert(d.name);
    for (const auto& u : request.upsertions) users.insert(u.name);
    for (const auto& name : users) {
      auto& result = response.results.emplace_back();
      result.user = name;
      result.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    }
    co_return response;
  }
  std::map<std::string, std::optional<Problem>> outcome;  // every user named, in name order
  // Checked against the users as they are when the change is made (in a
  // cluster etcd's, so this may run again when another broker won a race).
  auto change = [&](const security::CredentialMap& current) {
    outcome.clear();
    auto note = [&](const std::string& name, std::optional<Problem> problem) {
      auto [it, fresh] = outcome.emplace(name, std::nullopt);
      if (!fresh && !it->second) {
        it->second =
            Problem{ErrorCode::DUPLICATE_RESOURCE, "A user credential cannot be altered twice in the same request"};
        return;
      }
      if (!it->second) it->second = std::move(problem);
    };
    for (const auto& d : request.deletions) {
      auto problem = check_name_and_mechanism(d.name, d.mechanism);
      if (!problem) {
        auto user = current.find(d.name);
        if (user == current.end() || !user->second.count(*security::mechanism_from_type(d.mechanism)))
          problem = Problem{ErrorCode::RESOURCE_NOT_FOUND, "Attempt to delete a user credential that does not exist"};
      }
      note(d.name, std::move(problem));
    }
    for (const auto& u : request.upsertions) {
      auto problem = check_name_and_mechanism(u.name, u.mechanism);
      if (!problem && !security::storable_user_name(u.name))
        problem = Problem{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Invalid user name"};
      if (!problem && u.iterations < security::kMinIterations)
        problem = Problem{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too few iterations"};
      if (!problem && u.iterations > security::kMaxIterations)
        problem = Problem{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too many iterations"};
      if (!problem && (u.salt.empty() || u.salt.size() > 255 || u.salted_password.empty()))
        problem = Problem{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Invalid salt or salted password"};
      note(u.name, std::move(problem));
    }
    security::CredentialMap next = current;
    for (const auto& d : request.deletions) {
      if (outcome[d.name]) continue;
      auto user = next.find(d.name);
      user->second.erase(*security::mechanism_from_type(d.mechanism));
      if (user->second.empty()) next.erase(user);
    }
    for (const auto& u : request.upsertions) {
      if (outcome[u.name]) continue;
      auto mechanism = *security::mechanism_from_type(u.mechanism);
      next[u.name][mechanism] = security::credential_from_salted(mechanism, u.salted_password, u.salt, u.iterations);
    }
    return next;
  };
  std::string message;
  if (auto error = co_await ctx.broker.update_credentials(change, &message); error != ErrorCode::NONE) {
    // Nothing was written: every user that had no problem of its own gets the
    // error (change() may not have run: a stored value that does not decode).
    for (const auto& d : request.deletions) outcome.emplace(d.name, std::nullopt);
    for (const auto& u : request.upsertions) outcome.emplace(u.name, std::nullopt);
    for (auto& [name, problem] : outcome)
      if (!problem) problem = Problem{error, message};
  }
  for (const auto& [name, problem] : outcome) {
    auto& result = response.results.emplace_back();
    result.user = name;
    if (problem) {
      result.error_code = code(problem->error);
      result.error_message = problem->message;
    }
  }
  co_return response;
}

}  // namespace runnel
