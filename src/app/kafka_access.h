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
// the proxy uses is PLAINTEXT (anonymously, as any client of it). On a
// SASL_PLAINTEXT or SASL_SSL listener the proxy logs in to the other broker
// as the same user with the password of the HTTP request
// (app/peer_login.h), so that broker applies that user's ACLs too. An SSL
// listener (a certificate is the principal, and the proxy has none of the
// user's) refuses them with an error that says so.
//
// Thread-safety: immutable once built; dialer() may be called from any thread.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "app/admin_client.h"
#include "app/peer_login.h"

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
  // How to log in to the other brokers on a SASL listener.
  PeerLogin peer_login;
  // Listener::connect_in_process of that listener.
  std::function<int(const std::string& principal, const std::string& peer)> connect_in_process;

  // The dialer for one HTTP request (or one consumer instance): this broker
  // in process as `principal`, with `peer` as the client address; the other
  // brokers on a SASL listener as the Basic user `user` with `password`
  // (request_login()).
  Dialer dialer(const std::string& principal, const std::string& peer, const std::string& user = {},
                const std::string& password = {}) const;
};

// The Kafka principal of the HTTP request this thread serves: "User:" and
// its Basic user, or User:ANONYMOUS.
std::string request_principal();
// The Basic user and password of the HTTP request (checked before routing),
// or empty strings without runnel.admin.authentication=basic.
std::pair<std::string, std::string> request_login(const httplib::Request& req);
// The HTTP client's address, "HOST:PORT".
std::string request_peer(const httplib::Request& req);

}  // namespace runnel::app
