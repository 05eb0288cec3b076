#pragma once
// The Kafka listener: accepts connections on shard 0 and hands each new socket
// to the next shard in turn, where the connection then lives.
// Thread-safety: construct and stop from one thread; the accept loop runs on shard 0.
#include <asio.hpp>
#include <memory>
#include <string>

namespace runnel {

class Broker;

class Listener {
 public:
  // Binds at once, so a busy port fails start-up with a clear error.
  Listener(Broker& broker, const std::string& host, uint16_t port);
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> accept_loop();
  Broker& broker_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  int next_shard_ = 0;
};

}  // namespace runnel
