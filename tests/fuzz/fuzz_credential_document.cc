// The SCRAM credentials as a cluster keeps them (etcd's `scram-credentials`
// key, src/cluster/KEYS.md): decoding arbitrary text gives the users or
// std::invalid_argument, never a crash; what decodes re-encodes to a document
// that decodes to the same users, and those users fit the data dir's binary
// file too (a cluster's users can always be written where a node keeps them).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "security/credential_store.h"

using namespace runnel::security;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CredentialMap users;
  try {
    users = decode_credential_document(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (decode_credential_document(encode_credential_document(users)) != users) __builtin_trap();
  auto file = decode_credentials(encode_credentials(users));
  if (!file || *file != users) __builtin_trap();
  return 0;
}
