#include "server/listener.h"

#include <spdlog/spdlog.h>

#include <future>

#include "kafka/broker.h"
#include "server/connection.h"

namespace runnel {

Listener::Listener(Broker& broker, ListenerConfig config, std::shared_ptr<const security::TlsContextSource> tls)
    : broker_(broker),
      config_(std::move(config)),
      tls_(std::move(tls)),
      acceptor_(broker.shards().at(0).io()),
      open_(broker.shards().size()) {
  if (config_.protocol == SecurityProtocol::kSsl)
    principal_mapper_ = std::make_shared<const security::SslPrincipalMapper>(
        broker.config().tls_of(config_.name).principal_mapping_rules);
  asio::ip::tcp::resolver resolver(broker.shards().at(0).io());
  auto endpoint =
      *resolver.resolve(config_.host, std::to_string(config_.port), asio::ip::resolver_base::passive).begin();
  acceptor_.open(endpoint.endpoint().protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint.endpoint());
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void Listener::start() { asio::co_spawn(broker_.shards().at(0).executor(), accept_loop(), asio::detached); }

void Listener::stop() {
  stopping_ = true;
  auto& shards = broker_.shards();
  for (int s = 0; s < shards.size(); ++s) {
    std::promise<void> done;
    asio::post(shards.at(s).executor(), [this, s, &done] {
      if (s == 0) {
        std::error_code ec;
        acceptor_.close(ec);
      }
      for (const auto& connection : open_[s]) connection->close();
      done.set_value();
    });
    done.get_future().wait();
  }
}

asio::awaitable<void> Listener::accept_loop() {
  auto& shards = broker_.shards();
  while (acceptor_.is_open()) {
    Shard& shard = shards.at(next_shard_);
    next_shard_ = (next_shard_ + 1) % shards.size();
    std::error_code ec;
    auto socket = co_await acceptor_.async_accept(shard.io(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    auto connection = std::make_shared<Connection>(broker_, shard, std::move(socket), config_,
                                                   tls_ ? tls_->current() : nullptr, principal_mapper_);
    int shard_id = shard.id();
    // Registered and deregistered on the connection's own shard.
    asio::post(shard.executor(), [this, shard_id, connection] {
      if (stopping_) return;  // raced with stop(): never served
      open_[shard_id].insert(connection);
      asio::co_spawn(
          broker_.shards().at(shard_id).executor(), [connection] { return connection->run(); },
          [this, shard_id, connection](std::exception_ptr) { open_[shard_id].erase(connection); });
    });
  }
}

}  // namespace runnel
