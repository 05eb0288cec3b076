#include "app/kafka_access.h"

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "admin/admin_server.h"
#include "security/scram.h"
#include "security/session.h"

namespace runnel::app {

Dialer KafkaAccess::dialer(const std::string& principal, const std::string& peer, const std::string& user,
                           const std::string& password) const {
  // The password only where a login needs it (a SASL listener).
  const bool logs_in = !other_brokers_by_tcp && uses_sasl(peer_login.protocol);
  return [access = *this, principal, peer, user = logs_in ? user : std::string(),
          password = logs_in ? password : std::string()](const std::string& address) -> int {
    const auto& local = access.local_addresses;
    if (std::find(local.begin(), local.end(), address) != local.end()) {
      int fd = access.connect_in_process(principal, peer);
      if (fd < 0) throw AdminError("cannot reach this broker in process: " + std::string(std::strerror(errno)));
      return fd;
    }
    if (access.other_brokers_by_tcp) return -1;
    if (uses_sasl(access.peer_login.protocol)) {
      if (user.empty())
        throw AdminError("broker " + address + " is another broker, reached on SASL listener " + access.listener_name +
                         ": the REST proxy and the console log in there as the HTTP Basic user, and this request "
                         "has none (runnel.admin.authentication=basic)");
      return connect_as_user(access.peer_login, address, user, password);
    }
    throw AdminError("broker " + address + " is another broker, reached on listener " + access.listener_name +
                     ", which is SSL: the REST proxy and the console reach the other brokers only on a PLAINTEXT, "
                     "SASL_PLAINTEXT or SASL_SSL listener (on SSL the principal is a client certificate)");
  };
}

std::string request_principal() {
  auto user = admin_request_user();
  return user ? "User:" + *user : std::string(security::kAnonymous);
}

std::pair<std::string, std::string> request_login(const httplib::Request& req) {
  auto user = admin_request_user();
  if (!user) return {};
  constexpr std::string_view kScheme = "Basic ";
  std::string authorization = req.get_header_value("Authorization");
  if (authorization.compare(0, kScheme.size(), kScheme) != 0) return {};
  auto decoded = security::base64_decode(std::string_view(authorization).substr(kScheme.size()));
  if (!decoded) return {};
  std::string pair(decoded->begin(), decoded->end());
  auto colon = pair.find(':');
  if (colon == std::string::npos || pair.substr(0, colon) != *user) return {};
  return {*user, pair.substr(colon + 1)};
}

std::string request_peer(const httplib::Request& req) {
  const std::string& host = req.remote_addr;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(req.remote_port);
}

}  // namespace runnel::app
