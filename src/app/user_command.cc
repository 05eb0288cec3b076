#include "app/user_command.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "app/table.h"
#include "security/credential_store.h"

namespace runnel::app {
namespace {

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

}  // namespace

int user_set(const UserSetOptions& o, std::ostream& out, std::ostream& err) {
  auto mechanism = security::parse_mechanism(o.mechanism);
  if (!mechanism) {
    err << "--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '" << o.mechanism << "'\n";
    return 2;
  }
  if (o.name.empty() || o.password.empty()) {
    err << "the user name and --password must not be empty\n";
    return 2;
  }
  if (o.iterations < security::kMinIterations || o.iterations > security::kMaxIterations) {
    err << "--iterations must be between " << security::kMinIterations << " and " << security::kMaxIterations << "\n";
    return 2;
  }
  auto store = open_store(o.data_dir, err);
  if (!store) return 1;
  auto salt = security::random_salt();
  auto credential = security::make_credential(*mechanism, o.password, salt, o.iterations);
  if (!store->set(o.name, *mechanism, credential)) {
    err << "cannot write " << security::CredentialStore::path_in(o.data_dir).string() << ": " << std::strerror(errno)
        << "\n";
    return 1;
  }
  out << "set " << o.mechanism << " credential of user " << o.name << " (" << o.iterations << " iterations)\n";
  return 0;
}

int user_list(const std::string& data_dir, std::ostream& out, std::ostream& err) {
  auto store = open_store(data_dir, err);
  if (!store) return 1;
  std::vector<std::vector<std::string>> rows{{"USER", "MECHANISM", "ITERATIONS"}};
  for (const auto& [name, credentials] : store->snapshot())
    for (const auto& [mechanism, c] : credentials)
      rows.push_back({name, std::string(security::mechanism_name(mechanism)), std::to_string(c.iterations)});
  print_table(out, rows);
  return 0;
}

int user_delete(const std::string& name, const std::string& mechanism_name, const std::string& data_dir,
                std::ostream& out, std::ostream& err) {
  std::optional<security::ScramMechanism> mechanism;
  if (!mechanism_name.empty()) {
    mechanism = security::parse_mechanism(mechanism_name);
    if (!mechanism) {
      err << "--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '" << mechanism_name << "'\n";
      return 2;
    }
  }
  auto store = open_store(data_dir, err);
  if (!store) return 1;
  bool found = false;
  if (!store->remove(name, mechanism, &found)) {
    err << "cannot write " << security::CredentialStore::path_in(data_dir).string() << ": " << std::strerror(errno)
        << "\n";
    return 1;
  }
  if (!found) {
    err << "no such user" << (mechanism ? " credential" : "") << ": " << name << "\n";
    return 1;
  }
  out << "deleted " << (mechanism ? mechanism_name + " credential of user " : "user ") << name << "\n";
  return 0;
}

}  // namespace runnel::app
