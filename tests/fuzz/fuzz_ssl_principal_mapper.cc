// A client certificate's subject reaches ssl.principal.mapping.rules from the
// network: mapping any name under Kafka's example rules must return a name
// or none, never crash or overflow the stack (the rules are the operator's
// and are not fuzzed).
#include <cstddef>
#include <cstdint>
#include <string>

#include "security/ssl_principal_mapper.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const runnel::security::SslPrincipalMapper mapper(
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, "
      "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, "
      "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, "
      "RULE:^CN=((\\\\, *|\\w)+)(,.*|$)/$1/");
  std::string name(reinterpret_cast<const char*>(data), size);
  (void)mapper.name(name);
  return 0;
}
