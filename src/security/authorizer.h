#pragma once
// The broker's authorizer (authorizer.class.name): the ACLs in force and the
// StandardAuthorizer decision over them (security/acl.h) for one principal
// connected from one host. On a single node the ACLs live in one small file,
// DATA/meta/acls.json (the JSON array of security/acl.h's encode_acls),
// replaced atomically and durably (temp file, fsync, rename, directory fsync)
// on every change; in a cluster they live in etcd and the broker installs
// each new set its watch delivers (install()), without a file.
//
// Thread-safety: every method is safe from any thread. The set is immutable
// and swapped whole under a mutex; authorize() holds it only to copy the
// pointer.
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "security/acl.h"
#include "storage/env.h"

namespace runnel::security {

class Authorizer {
 public:
  // `enabled` false: every action is allowed, and the ACL APIs answer
  // SECURITY_DISABLED (as Kafka without an authorizer).
  Authorizer(storage::Env* env, std::filesystem::path path, bool enabled, AuthorizerConfig config)
      : env_(env), path_(std::move(path)), enabled_(enabled), config_(std::move(config)) {}
  static std::filesystem::path path_in(const std::filesystem::path& data_dir) {
    return data_dir / "meta" / "acls.json";
  }

  bool enabled() const { return enabled_; }
  const AuthorizerConfig& config() const { return config_; }

  // Reads the file (single node); a missing file is no ACLs. False, with
  // *error set, when it exists but cannot be read or does not decode.
  [[nodiscard]] bool load(std::string* error);

  // The decision for `principal` connected from `host` (an IP address).
  bool authorize(std::string_view principal, std::string_view host, const AclAction& action) const;
  bool authorize_any(std::string_view principal, std::string_view host, AclOperation op, ResourceType type) const {
    return !enabled_ || acls()->authorize_any(config_, principal, host, op, type);
  }
  // Kafka's AuthHelper.authorizedOperations: the bit field
  // (operations_bit_field) of the operations supported on the resource that
  // `principal` may do on it, each decided as authorize() does for a
  // LITERAL resource of that name; every supported operation when disabled.
  int32_t authorized_operations(std::string_view principal, std::string_view host, ResourceType type,
                                std::string_view name) const;
  bool is_super_user(std::string_view principal) const { return config_.super_users.count(std::string(principal)); }

  std::shared_ptr<const AclSet> acls() const;
  // Single node: computes the next set from the current one and writes it
  // through to the file; false (errno set, nothing changed) when the file
  // cannot be written. Changes are serialised.
  [[nodiscard]] bool update(const std::function<AclSet(const AclSet&)>& change);
  // Cluster: the set etcd holds now.
  void install(AclSet acls);

 private:
  storage::Env* env_;
  const std::filesystem::path path_;
  const bool enabled_;
  const AuthorizerConfig config_;
  std::mutex update_mu_;  // serialises update()
  mutable std::mutex mu_;
  std::shared_ptr<const AclSet> acls_ = std::make_shared<const AclSet>();
};

}  // namespace runnel::security
