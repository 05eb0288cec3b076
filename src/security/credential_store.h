#pragma once
// The SCRAM credentials of the users a broker knows (salt, iterations,
// StoredKey and ServerKey per user and mechanism; never a password), kept in
// one small file, DATA/meta/scram-credentials, rewritten atomically and
// durably on every change. The file layout (all integers big-endian):
//
//   magic "RSCR" | u8 version (1) | u32 user count
//   per user:  u16 name length | name | u8 credential count
//     per credential: u8 mechanism (1 SCRAM-SHA-256, 2 SCRAM-SHA-512)
//                     | i32 iterations | u8 salt length | salt
//                     | u8 key length | StoredKey | u8 key length | ServerKey
//   u32 CRC-32C of every byte before it
//
// That file is a single node's. A cluster keeps its credentials in etcd (key
// `scram-credentials`, src/cluster/KEYS.md) as the JSON document of
// encode_credential_document; each broker installs every new value its watch
// delivers (install()) and never writes the file.
//
// Thread-safety: every method is safe from any thread. A mutex guards the
// map: authentication and credential changes are rare, never on the data path.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "security/scram.h"
#include "storage/env.h"

namespace runnel::security {

using UserCredentials = std::map<ScramMechanism, ScramCredential>;
using CredentialMap = std::map<std::string, UserCredentials>;

std::vector<uint8_t> encode_credentials(const CredentialMap& users);
// nullopt when the bytes are not a whole, intact file of this format.
std::optional<CredentialMap> decode_credentials(std::span<const uint8_t> bytes);

// The same users as a JSON document (etcd's `scram-credentials` key):
//   {"version":1,"users":{"<name>":{"SCRAM-SHA-256":{"iterations":4096,
//     "salt":"<base64>","stored_key":"<base64>","server_key":"<base64>"}}}}
// decode throws std::invalid_argument on anything else (or on a credential
// the file could not hold: an empty or too long name, more than 255 bytes of
// salt or key, iterations outside 1 to 16384, the file's range).
std::string encode_credential_document(const CredentialMap& users);
CredentialMap decode_credential_document(std::string_view text);
// Whether a user name can be stored in both forms: not empty, at most 65,535
// bytes, UTF-8.
bool storable_user_name(const std::string& name);

class CredentialStore {
 public:
  CredentialStore(storage::Env* env, std::filesystem::path path) : env_(env), path_(std::move(path)) {}
  static std::filesystem::path path_in(const std::filesystem::path& data_dir) {
    return data_dir / "meta" / "scram-credentials";
  }

  // Reads the file; a missing file is an empty store. False (with *error
  // set) when it exists but cannot be read or is corrupt.
  [[nodiscard]] bool load(std::string* error);

  std::optional<ScramCredential> find(const std::string& user, ScramMechanism m) const;
  CredentialMap snapshot() const;

  // Adds or replaces a credential, or removes one (remove_all: every
  // mechanism of the user). Write-through: false, with errno set and nothing
  // changed, when the file cannot be written. remove() of a credential that
  // does not exist returns true and sets *found to false.
  [[nodiscard]] bool set(const std::string& user, ScramMechanism m, const ScramCredential& credential);
  [[nodiscard]] bool remove(const std::string& user, std::optional<ScramMechanism> m, bool* found);
  // Single node: the users become change(current), written through to the
  // file; false (errno set, nothing changed) when it cannot be written.
  // Changes are serialised with set() and remove(); `change` runs under the
  // store's lock and must not call it.
  [[nodiscard]] bool update(const std::function<CredentialMap(const CredentialMap&)>& change);
  // Cluster: the users etcd holds now (no file is written).
  void install(CredentialMap users);

 private:
  [[nodiscard]] bool write(const CredentialMap& users);
  storage::Env* env_;
  std::filesystem::path path_;
  mutable std::mutex mu_;
  CredentialMap users_;
};

}  // namespace runnel::security
