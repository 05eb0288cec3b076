#pragma once
// `runnel user set|list|delete`: the SCRAM credentials of a data dir, managed
// offline, before the broker starts (like kafka-storage.sh --add-scram). A
// running broker does not see these changes until it restarts; online, use
// AlterUserScramCredentials (kafka-configs.sh --alter --add-config
// 'SCRAM-SHA-256=[password=...]').
#include <cstdint>
#include <ostream>
#include <string>

namespace runnel::app {

struct UserSetOptions {
  std::string name;
  std::string password;
  std::string mechanism = "SCRAM-SHA-256";
  int32_t iterations = 4096;
  std::string data_dir;
};

// Each returns the exit code (0 ok, 1 failure, 2 bad arguments).
int user_set(const UserSetOptions& options, std::ostream& out, std::ostream& err);
int user_list(const std::string& data_dir, std::ostream& out, std::ostream& err);
int user_delete(const std::string& name, const std::string& mechanism, const std::string& data_dir, std::ostream& out,
                std::ostream& err);

}  // namespace runnel::app
