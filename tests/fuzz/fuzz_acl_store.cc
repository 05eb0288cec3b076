// The stored ACLs (DATA/meta/acls.json on a single node, etcd's `acls` key in a
// cluster): decoding arbitrary text gives the bindings or
// std::invalid_argument, never a crash, and what decodes re-encodes to text
// that decodes to the same bindings; the decision over them never crashes.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "security/acl.h"

using namespace runnel::security;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<AclBinding> acls;
  try {
    acls = decode_acls(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (decode_acls(encode_acls(acls)) != acls) __builtin_trap();
  AclSet set(acls);
  AuthorizerConfig config;
  for (const auto& a : acls) {
    (void)set.authorize(config, a.principal, a.host, {a.operation, a.resource_type, a.resource_name});
    (void)set.authorize_any(config, a.principal, a.host, a.operation, a.resource_type);
  }
  return 0;
}
