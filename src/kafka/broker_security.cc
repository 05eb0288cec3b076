// Broker: the ACLs and SCRAM credentials it enforces, kept in line with
// their store (a data dir's files on a single node, etcd in a cluster) and
// changed through it (CreateAcls, DeleteAcls, AlterUserScramCredentials).
#include <spdlog/spdlog.h>

#include <cstring>

#include "kafka/broker.h"

namespace runnel {

void Broker::refresh_acls() {
  std::lock_guard lock(acls_mu_);
  auto [revision, text] = control_plane_->cache().acls();
  if (revision == acls_revision_) return;
  acls_revision_ = revision;
  if (text.empty()) {
    authorizer_.install({});
    return;
  }
  try {
    authorizer_.install(security::AclSet(security::decode_acls(text)));
    spdlog::info("ACLs updated from the cluster ({} bindings)", authorizer_.acls()->all().size());
  } catch (const std::invalid_argument& e) {
    spdlog::error("ignoring the cluster's ACLs, which do not decode: {}", e.what());
  }
}

asio::awaitable<ErrorCode> Broker::update_acls(std::function<security::AclSet(const security::AclSet&)> change,
                                               std::string* message) {
  if (control_plane_) {
    auto edit = [&](const std::string& current) {
      security::AclSet set(current.empty() ? std::vector<security::AclBinding>{} : security::decode_acls(current));
      return security::encode_acls(change(set).all());
    };
    auto write = [&]() { return control_plane_->update_acls(edit, message); };
    auto error = co_await on_control_pool(write);
    if (error == ErrorCode::NONE) refresh_acls();
    co_return error;
  }
  if (!authorizer_.update(change)) {
    *message = std::string("cannot write the ACL file: ") + std::strerror(errno);
    co_return ErrorCode::UNKNOWN_SERVER_ERROR;
  }
  co_return ErrorCode::NONE;
}

void Broker::seed_credentials() {
  const auto path = security::CredentialStore::path_in(config_.data_dir);
  std::optional<std::string> local;
  size_t local_users = 0;
  std::string local_error;
  if (env_->exists(path)) {
    security::CredentialStore file(env_, path);
    if (file.load(&local_error)) {
      auto users = file.snapshot();
      local_users = users.size();
      local = security::encode_credential_document(users);
    }
  }
  std::string value;
  int64_t revision = 0;
  bool created = false;
  if (auto status = control_plane_->seed_scram_credentials(local, value, revision, created); !status.is_ok())
    throw std::runtime_error("cannot read the cluster's SCRAM credentials from etcd at " + config_.etcd_endpoints +
                             ": " + status.to_string());
  if (created) {
    spdlog::info("uploaded the {} users of {} to the cluster's SCRAM credentials (etcd key scram-credentials)",
                 local_users, path.string());
  } else if (!local_error.empty()) {
    // What a single node would refuse to start with; in a cluster whose
    // credentials etcd holds it is not needed.
    if (revision == 0) throw std::runtime_error(local_error);
    spdlog::warn("{}; ignored: the cluster's SCRAM credentials are in etcd", local_error);
  } else if (local) {
    spdlog::warn(
        "{} is ignored: the cluster's SCRAM credentials are in etcd (key scram-credentials) and take precedence; "
        "manage users with AlterUserScramCredentials or `runnel user ... --etcd`",
        path.string());
  }
  {
    std::lock_guard lock(credentials_mu_);
    install_credentials_locked(revision, value);
  }
  if (inter_broker_sasl_) {
    auto mechanism = security::parse_mechanism(inter_broker_sasl_->mechanism);
    bool known = false;
    for (auto m : {security::ScramMechanism::kSha256, security::ScramMechanism::kSha512})
      if ((!mechanism || *mechanism == m) && credentials_.find(inter_broker_sasl_->username, m)) known = true;
    if (!known)
      spdlog::warn(
          "the inter-broker user {} has no {} credential in the cluster's SCRAM credentials: the brokers cannot "
          "log in to each other until it is added (`runnel user set {} --etcd {}` or AlterUserScramCredentials)",
          inter_broker_sasl_->username, mechanism ? inter_broker_sasl_->mechanism : "SCRAM",
          inter_broker_sasl_->username, config_.etcd_endpoints);
  }
}

void Broker::refresh_credentials() {
  std::lock_guard lock(credentials_mu_);
  auto [revision, text] = control_plane_->cache().scram_credentials();
  install_credentials_locked(revision, text);
}

void Broker::install_credentials_locked(int64_t revision, const std::string& text) {
  if (revision == credentials_revision_) return;
  credentials_revision_ = revision;
  if (text.empty()) {
    credentials_.install({});
    return;
  }
  try {
    auto users = security::decode_credential_document(text);
    size_t count = users.size();
    credentials_.install(std::move(users));
    spdlog::info("SCRAM credentials updated from the cluster ({} users)", count);
  } catch (const std::invalid_argument& e) {
    spdlog::error("ignoring the cluster's SCRAM credentials, which do not decode: {}", e.what());
  }
}

asio::awaitable<ErrorCode> Broker::update_credentials(
    std::function<security::CredentialMap(const security::CredentialMap&)> change, std::string* message) {
  if (control_plane_) {
    auto edit = [&](const std::string& current) {
      auto users = current.empty() ? security::CredentialMap{} : security::decode_credential_document(current);
      auto next = change(users);
      // No key and no users (every change refused): create nothing, so that
      // a broker's file may still be uploaded.
      if (current.empty() && next.empty()) return std::string();
      return security::encode_credential_document(next);
    };
    auto write = [&]() { return control_plane_->update_scram_credentials(edit, message); };
    auto error = co_await on_control_pool(write);
    if (error == ErrorCode::NONE) refresh_credentials();
    co_return error;
  }
  if (!credentials_.update(change)) {
    *message = std::string("cannot write the credential file: ") + std::strerror(errno);
    co_return ErrorCode::UNKNOWN_SERVER_ERROR;
  }
  co_return ErrorCode::NONE;
}

}  // namespace runnel
