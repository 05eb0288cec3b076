#pragma once
// A real etcd (Debian's etcd-server) for tests: started on free loopback
// ports with a fresh data directory, stopped and removed by the destructor.
// Tests that need etcd skip, saying why, when the binary is missing.
//
// Thread-safety: owned by one test.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd/client.h"

namespace runnel::testing {

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string etcd_binary() {
  for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

// Waits up to `limit` for `done` to hold, checking every 10 ms.
template <typename Fn>
bool eventually(Fn done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class EtcdServer {
 public:
  EtcdServer() {
    char tmpl[] = "/tmp/runnel-etcd-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    client_port_ = free_port();
    peer_port_ = free_port();
  }
  ~EtcdServer() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  static bool available() { return !etcd_binary().empty(); }

  // Starts etcd and waits until it answers; false if it did not within 10 s.
  bool start() {
    std::string client_url = "http://127.0.0.1:" + std::to_string(client_port_);
    std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::string bin = etcd_binary();
    std::vector<std::string> args = {bin,
                                     "--name=test",
                                     "--data-dir=" + dir_ + "/data",
                                     "--listen-client-urls=" + client_url,
                                     "--advertise-client-urls=" + client_url,
                                     "--listen-peer-urls=" + peer_url,
                                     "--initial-advertise-peer-urls=" + peer_url,
                                     "--initial-cluster=test=" + peer_url,
                                     "--log-outputs=" + dir_ + "/etcd.log",
                                     "--logger=zap"};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    cluster::etcd::ClientOptions options;
    options.endpoints = {{"127.0.0.1", client_port_}};
    options.request_timeout = std::chrono::milliseconds(500);
    cluster::etcd::Client probe(options);
    for (int i = 0; i < 200; ++i) {
      cluster::etcd::RangeResponse r;
      if (probe.range("probe", "", r).is_ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // SIGKILL (or SIGSTOP when `pause`): etcd stops answering at once.
  void kill_hard() { signal_and_reap(SIGKILL); }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  void stop() { signal_and_reap(SIGTERM); }

  int client_port() const { return client_port_; }
  cluster::etcd::ClientOptions client_options() const {
    cluster::etcd::ClientOptions o;
    o.endpoints = {{"127.0.0.1", client_port_}};
    o.request_timeout = std::chrono::milliseconds(2000);
    return o;
  }

 private:
  void signal_and_reap(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace runnel::testing
