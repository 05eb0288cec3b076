#pragma once
// HTTP Basic authentication for the admin listener
// (runnel.admin.authentication=basic): the user and password of an
// `Authorization: Basic ...` header checked against the SASL users' SCRAM
// credentials, as SASL/PLAIN checks them (the password is derived with the
// stored salt and iterations; the store never holds it).
//
// Thread-safety: the CredentialStore is; the function keeps no state.
#include <optional>
#include <string>
#include <string_view>

#include "security/credential_store.h"

namespace runnel::security {

// The authenticated user, or nullopt (no header, not Basic, malformed base64,
// unknown user, wrong password).
std::optional<std::string> basic_auth_user(std::string_view authorization, const CredentialStore& store);

}  // namespace runnel::security
