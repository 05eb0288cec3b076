#include "app/user_command.h"

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

#include "app/table.h"
#include "cluster/control_plane.h"
#include "cluster/etcd/client.h"
#include "cluster/metadata/metadata_cache.h"
#include "cluster/node_meta.h"
#include "security/credential_store.h"

namespace runnel::app {
namespace {

// Where the brokers keep the cluster in etcd (their default root).
const std::string kRoot = cluster::ControlPlaneOptions{}.root;

bool valid_store(const UserStore& s, std::ostream& err) {
  if (s.data_dir.empty() == s.etcd.empty()) {
    err << "give either --data-dir (a single node) or --etcd (a cluster)\n";
    return false;
  }
  if (!s.etcd.empty() && cluster::etcd::parse_endpoints(s.etcd).empty()) {
    err << "invalid --etcd '" << s.etcd << "': expected http://host:port[,...]\n";
    return false;
  }
  return true;
}

// Loads the data dir's store; nullptr (with the reason on err) when it is corrupt.
std::unique_ptr<security::CredentialStore> open_store(const std::string& data_dir, std::ostream& err) {
  auto store =
      std::make_unique<security::CredentialStore>(storage::Env::posix(), security::CredentialStore::path_in(data_dir));
  std::string error;
  if (!store->load(&error)) {
    err << error << "\n";
    return nullptr;
  }
  return store;
}

// The cluster's credentials in etcd. `create_cluster`: when etcd has no
// cluster id yet, make one (as join_cluster would), else there are no users.
class EtcdUsers {
 public:
  explicit EtcdUsers(const std::string& endpoints)
      : client_(cluster::etcd::ClientOptions{cluster::etcd::parse_endpoints(endpoints)}), endpoints_(endpoints) {}

  // Finds the cluster (key() is then its credentials' key; "" when there is
  // no cluster and none was to be created); false (reason on err) when etcd
  // cannot be reached.
  bool resolve(bool create_cluster, std::ostream& err) {
    const std::string id_key = cluster::metadata::cluster_id_key(kRoot);
    cluster::etcd::TxnResponse txn;
    cluster::etcd::Status status;
    std::string proposed = cluster::random_cluster_id();
    if (create_cluster)
      status = client_.txn({cluster::etcd::Compare::create_revision(id_key, 0)},
                           {cluster::etcd::Op::put(id_key, proposed)}, {cluster::etcd::Op::range(id_key)}, txn);
    else
      status = client_.txn({}, {cluster::etcd::Op::range(id_key)}, {}, txn);
    if (!status.is_ok()) {
      err << "cannot reach etcd at " << endpoints_ << ": " << status.to_string() << "\n";
      return false;
    }
    std::string cluster_id;
    if (create_cluster && txn.succeeded) {
      cluster_id = proposed;
      err << "created cluster " << cluster_id << " in etcd (its brokers have not started yet)\n";
    } else if (!txn.responses.empty() && !txn.responses[0].kvs.empty()) {
      cluster_id = txn.responses[0].kvs[0].value;
    }
    if (!cluster_id.empty()) key_ = cluster::metadata::Keys{kRoot + cluster_id + "/"}.scram_credentials();
    return true;
  }

  // The users as stored; nullopt (reason on err) when etcd cannot be read or
  // the value does not decode.
  std::optional<security::CredentialMap> read(std::ostream& err) {
    if (key_.empty()) return security::CredentialMap{};
    cluster::etcd::RangeResponse current;
    if (auto status = client_.range(key_, {}, current); !status.is_ok()) {
      err << "cannot reach etcd at " << endpoints_ << ": " << status.to_string() << "\n";
      return std::nullopt;
    }
    mod_revision_ = current.kvs.empty() ? 0 : current.kvs.front().mod_revision;
    if (current.kvs.empty()) return security::CredentialMap{};
    try {
      return security::decode_credential_document(current.kvs.front().value);
    } catch (const std::invalid_argument& e) {
      err << key_ << " in etcd: " << e.what() << "\n";
      return std::nullopt;
    }
  }

  // Replaces the users by change(current) with a compare-and-swap on the
  // key's mod revision, reading again after a lost race. `change` returns
  // false to write nothing. 0, or the exit code.
  int update(const std::function<bool(security::CredentialMap&)>& change, std::ostream& err) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto users = read(err);
      if (!users) return 1;
      if (!change(*users)) return 0;
      auto compare = mod_revision_ == 0 ? cluster::etcd::Compare::create_revision(key_, 0)
                                        : cluster::etcd::Compare::mod_revision(key_, mod_revision_);
      cluster::etcd::TxnResponse txn;
      auto status =
          client_.txn({compare}, {cluster::etcd::Op::put(key_, security::encode_credential_document(*users))}, {}, txn);
      if (!status.is_ok()) {
        err << "cannot write to etcd at " << endpoints_ << ": " << status.to_string() << "\n";
        return 1;
      }
      if (txn.succeeded) return 0;
    }
    err << "the cluster's SCRAM credentials changed under every attempt; retry\n";
    return 1;
  }

  const std::string& key() const { return key_; }

 private:
  cluster::etcd::Client client_;
  std::string endpoints_;
  std::string key_;
  int64_t mod_revision_ = 0;
};

}  // namespace

int user_set(const UserSetOptions& o, std::ostream& out, std::ostream& err) {
  if (!valid_store(o.store, err)) return 2;
  auto mechanism = security::parse_mechanism(o.mechanism);
  if (!mechanism) {
    err << "--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '" << o.mechanism << "'\n";
    return 2;
  }
  if (o.name.empty() || o.password.empty()) {
    err << "the user name and --password must not be empty\n";
    return 2;
  }
  if (!security::storable_user_name(o.name)) {
    err << "the user name must be UTF-8 and at most 65535 bytes\n";
    return 2;
  }
  if (o.iterations < security::kMinIterations || o.iterations > security::kMaxIterations) {
    err << "--iterations must be between " << security::kMinIterations << " and " << security::kMaxIterations << "\n";
    return 2;
  }
  auto salt = security::random_salt();
  auto credential = security::make_credential(*mechanism, o.password, salt, o.iterations);
  if (!o.store.etcd.empty()) {
    EtcdUsers users(o.store.etcd);
    if (!users.resolve(/*create_cluster=*/true, err)) return 1;
    int rc = users.update(
        [&](security::CredentialMap& m) {
          m[o.name][*mechanism] = credential;
          return true;
        },
        err);
    if (rc != 0) return rc;
  } else {
    auto store = open_store(o.store.data_dir, err);
    if (!store) return 1;
    if (!store->set(o.name, *mechanism, credential)) {
      err << "cannot write " << security::CredentialStore::path_in(o.store.data_dir).string() << ": "
          << std::strerror(errno) << "\n";
      return 1;
    }
  }
  out << "set " << o.mechanism << " credential of user " << o.name << " (" << o.iterations << " iterations)\n";
  return 0;
}

int user_list(const UserStore& s, std::ostream& out, std::ostream& err) {
  if (!valid_store(s, err)) return 2;
  security::CredentialMap users;
  if (!s.etcd.empty()) {
    EtcdUsers etcd_users(s.etcd);
    if (!etcd_users.resolve(/*create_cluster=*/false, err)) return 1;
    auto read = etcd_users.read(err);
    if (!read) return 1;
    users = std::move(*read);
  } else {
    auto store = open_store(s.data_dir, err);
    if (!store) return 1;
    users = store->snapshot();
  }
  std::vector<std::vector<std::string>> rows{{"USER", "MECHANISM", "ITERATIONS"}};
  for (const auto& [name, credentials] : users)
    for (const auto& [mechanism, c] : credentials)
      rows.push_back({name, std::string(security::mechanism_name(mechanism)), std::to_string(c.iterations)});
  print_table(out, rows);
  return 0;
}

int user_delete(const std::string& name, const std::string& mechanism_name, const UserStore& s, std::ostream& out,
                std::ostream& err) {
  if (!valid_store(s, err)) return 2;
  std::optional<security::ScramMechanism> mechanism;
  if (!mechanism_name.empty()) {
    mechanism = security::parse_mechanism(mechanism_name);
    if (!mechanism) {
      err << "--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '" << mechanism_name << "'\n";
      return 2;
    }
  }
  bool found = false;
  if (!s.etcd.empty()) {
    EtcdUsers users(s.etcd);
    if (!users.resolve(/*create_cluster=*/false, err)) return 1;
    if (!users.key().empty()) {
      int rc = users.update(
          [&](security::CredentialMap& m) {
            auto it = m.find(name);
            found = it != m.end() && (!mechanism || it->second.count(*mechanism));
            if (!found) return false;
            if (mechanism) it->second.erase(*mechanism);
            if (!mechanism || it->second.empty()) m.erase(it);
            return true;
          },
          err);
      if (rc != 0) return rc;
    }
  } else {
    auto store = open_store(s.data_dir, err);
    if (!store) return 1;
    if (!store->remove(name, mechanism, &found)) {
      err << "cannot write " << security::CredentialStore::path_in(s.data_dir).string() << ": " << std::strerror(errno)
          << "\n";
      return 1;
    }
  }
  if (!found) {
    err << "no such user" << (mechanism ? " credential" : "") << ": " << name << "\n";
    return 1;
  }
  out << "deleted " << (mechanism ? mechanism_name + " credential of user " : "user ") << name << "\n";
  return 0;
}

}  // namespace runnel::app
