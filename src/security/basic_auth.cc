#include "security/basic_auth.h"

#include "security/scram.h"

namespace runnel::security {

std::optional<std::string> basic_auth_user(std::string_view authorization, const CredentialStore& store) {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  auto decoded = base64_decode(authorization.substr(kScheme.size()));
  if (!decoded) return std::nullopt;
  std::string pair(decoded->begin(), decoded->end());
  auto colon = pair.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string user = pair.substr(0, colon);
  std::string_view password = std::string_view(pair).substr(colon + 1);
  for (auto m : {ScramMechanism::kSha256, ScramMechanism::kSha512})
    if (auto credential = store.find(user, m); credential && password_matches(m, *credential, password)) return user;
  return std::nullopt;
}

}  // namespace runnel::security
