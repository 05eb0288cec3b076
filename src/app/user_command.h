#pragma once
// `runnel user set|list|delete`: the SCRAM credentials of a single node's data
// dir (--data-dir), or of a cluster in etcd (--etcd, the brokers' endpoints),
// managed offline, before the broker starts (like kafka-storage.sh
// --add-scram) or, for a cluster, at any time.
//
// A data dir's file is read only at start-up: a running broker does not see
// these changes until it restarts. A cluster's credentials live in etcd's
// `scram-credentials` key (src/cluster/KEYS.md), written here with a
// compare-and-swap on its mod revision as the brokers write it; every running
// broker's watch installs the change at once. Before the cluster's first
// broker has started, `set` creates the cluster id in etcd (as the first
// broker would), so that brokers started with fresh data dirs join that
// cluster and find the users. Online, use AlterUserScramCredentials
// (kafka-configs.sh --alter --add-config 'SCRAM-SHA-256=[password=...]').
#include <cstdint>
#include <ostream>
#include <string>

namespace runnel::app {

// Where the credentials are: exactly one of the two.
struct UserStore {
  std::string data_dir;
  std::string etcd;  // endpoints, comma separated (runnel.etcd.endpoints)
};

struct UserSetOptions {
  std::string name;
  std::string password;
  std::string mechanism = "SCRAM-SHA-256";
  int32_t iterations = 4096;
  UserStore store;
};

// Each returns the exit code (0 ok, 1 failure, 2 bad arguments).
int user_set(const UserSetOptions& options, std::ostream& out, std::ostream& err);
int user_list(const UserStore& store, std::ostream& out, std::ostream& err);
int user_delete(const std::string& name, const std::string& mechanism, const UserStore& store, std::ostream& out,
                std::ostream& err);

}  // namespace runnel::app
