#pragma once
// One client connection: reads size-prefixed request frames, dispatches each
// to its handler, and writes responses in request order (Kafka answers one
// request at a time per connection, and so do we: ordering across Produce
// requests of one connection is then guaranteed). File slices in a response
// go out with sendfile.
//
// Thread-safety: a Connection lives on the shard that accepted it and is used
// only there.
#include <asio.hpp>
#include <memory>
#include <vector>

#include "protocol/writer.h"

namespace runnel {

class Broker;
class Shard;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Broker& broker, Shard& shard, asio::ip::tcp::socket socket);
  asio::awaitable<void> run();

 private:
  asio::awaitable<void> write_response(int32_t correlation_id, bool flexible_header, const protocol::OutputFrame& body);
  asio::awaitable<void> send_file(const FileSlice& slice);

  Broker& broker_;
  Shard& shard_;
  asio::ip::tcp::socket socket_;
  std::string peer_;
  std::vector<uint8_t> frame_;
};

}  // namespace runnel
