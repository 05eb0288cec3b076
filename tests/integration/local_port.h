#pragma once
// A free TCP port on 127.0.0.1 for a server the test starts (the kernel picks
// one, the socket is closed again), never one handed out before: not by this
// process (the kernel may give a just-closed port again) and, under
// tests/integration/run.sh, not to the suites running beside this one
// ($RUNNEL_IT_PORTS, a directory with an entry per port handed out), which may
// not have bound theirs yet. Shared by the librdkafka suites; not thread-safe.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

namespace runnel_it {

inline int any_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

inline bool claim_for_the_run(int port) {
  const char* run_ports = std::getenv("RUNNEL_IT_PORTS");
  if (run_ports == nullptr || *run_ports == '\0') return true;
  if (mkdir((std::string(run_ports) + "/" + std::to_string(port)).c_str(), 0755) == 0) return true;
  return errno != EEXIST;  // taken by another suite; any other failure claims nothing
}

inline int free_port() {
  static std::set<int> handed_out;
  for (;;) {
    int port = any_free_port();
    if (port > 0 && !handed_out.count(port) && claim_for_the_run(port)) {
      handed_out.insert(port);
      return port;
    }
  }
}

}  // namespace runnel_it
