#include "app/kafka_access.h"

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "admin/admin_server.h"
#include "security/session.h"

namespace runnel::app {

Dialer KafkaAccess::dialer(const std::string& principal, const std::string& peer) const {
  return [access = *this, principal, peer](const std::string& address) -> int {
    const auto& local = access.local_addresses;
    if (std::find(local.begin(), local.end(), address) != local.end()) {
      int fd = access.connect_in_process(principal, peer);
      if (fd < 0) throw AdminError("cannot reach this broker in process: " + std::string(std::strerror(errno)));
      return fd;
    }
    if (access.other_brokers_by_tcp) return -1;
    throw AdminError("broker " + address + " is another broker, reached on listener " + access.listener_name +
                     ", which is not PLAINTEXT: the REST proxy and the console reach only the broker that serves "
                     "them there (not yet the other brokers of a secured cluster)");
  };
}

std::string request_principal() {
  auto user = admin_request_user();
  return user ? "User:" + *user : std::string(security::kAnonymous);
}

std::string request_peer(const httplib::Request& req) {
  const std::string& host = req.remote_addr;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(req.remote_port);
}

}  // namespace runnel::app
