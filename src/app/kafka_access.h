#pragma once
// How the admin listener's REST proxy and console reach Kafka. They run the
// same client code as the command-line tools (AdminClient), but instead of
// a TCP connection to a listener they get a connection made inside the
// process (Listener::connect_in_process) that the broker serves as the HTTP
// Basic user: "User:<name>" (or User:ANONYMOUS without
// runnel.admin.authentication=basic), so ACLs, quotas and the audit of that
// user apply to what the proxy does for them, and no listener needs to be
// PLAINTEXT. The password is checked once per request and never kept.
//
// Addresses other than this broker's (another broker of a cluster that leads
// a partition or coordinates a group) are dialled over TCP when the listener
// the proxy uses is PLAINTEXT (as before, anonymously); on a secured
// listener they are refused with an error that says so.
//
// Thread-safety: immutable once built; dialer() may be called from any thread.
#include <functional>
#include <string>
#include <vector>

#include "app/admin_client.h"

namespace httplib {
struct Request;
}

namespace runnel::app {

struct KafkaAccess {
  // This broker's address on the listener used: where the tools start.
  std::string bootstrap;
  // Every address that means this broker on that listener (bound and advertised).
  std::vector<std::string> local_addresses;
  std::string listener_name;
  // The listener is PLAINTEXT: the other brokers are reachable over TCP.
  bool other_brokers_by_tcp = false;
  // Listener::connect_in_process of that listener.
  std::function<int(const std::string& principal, const std::string& peer)> connect_in_process;

  // The dialer for one HTTP request (or one consumer instance): this broker
  // in process as `principal`, with `peer` as the client address.
  Dialer dialer(const std::string& principal, const std::string& peer) const;
};

// The Kafka principal of the HTTP request this thread serves: "User:" and
// its Basic user, or User:ANONYMOUS.
std::string request_principal();
// The HTTP client's address, "HOST:PORT".
std::string request_peer(const httplib::Request& req);

}  // namespace runnel::app
