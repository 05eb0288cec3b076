// A JKS keystore or truststore (security/jks.h) is read from a file the
// operator names, possibly truncated or not a JKS store at all: parsing it,
// with and without the integrity check, and unprotecting every key entry
// must fail with a reason, never read past the bytes or crash.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "security/jks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runnel::security;
  const std::span<const uint8_t> bytes(data, size);
  const std::string password = "changeit";
  JksStore store;
  std::string error;
  (void)parse_jks(bytes, &password, store, error);
  if (parse_jks(bytes, nullptr, store, error)) {
    for (const auto& key : store.keys) {
      std::vector<uint8_t> pkcs8;
      (void)unprotect_jks_key(key.protected_key, password, pkcs8, error);
    }
  }
  // The key protector alone, on the whole input.
  std::vector<uint8_t> pkcs8;
  (void)unprotect_jks_key(bytes, password, pkcs8, error);
  return 0;
}
