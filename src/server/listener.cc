#include "server/listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>
#include <optional>

#include "base/clock.h"
#include "kafka/broker.h"
#include "server/connection.h"
#include "server/memory_trimmer.h"

namespace runnel {

Listener::Listener(Broker& broker, ListenerConfig config, std::shared_ptr<const security::TlsContextSource> tls)
    : broker_(broker),
      config_(std::move(config)),
      tls_(std::move(tls)),
      acceptor_(broker.shards().at(0).io()),
      slot_wait_(broker.shards().at(0).io()),
      open_(broker.shards().size()),
      excess_closing_(broker.shards().size()) {
  for (int s = 0; s < broker.shards().size(); ++s) {
    idle_timers_.push_back(std::make_unique<asio::steady_timer>(broker.shards().at(s).io()));
    sweeping_.push_back(std::make_shared<bool>(true));
  }
  quota_index_ = broker.connection_quotas().listener_index(config_.name);
  if (quota_index_ >= 0) {
    quota_waker_ = broker.connection_quotas().add_waker(
        [this] { asio::post(broker_.shards().at(0).executor(), [this] { slot_wait_.cancel(); }); });
    excess_handler_ = broker.connection_quotas().add_excess_handler([this] {
      for (int s = 0; s < broker_.shards().size(); ++s)
        asio::post(broker_.shards().at(s).executor(), [this, s] { close_excess(s); });
    });
  }
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

Listener::~Listener() {
  if (quota_waker_ >= 0) broker_.connection_quotas().remove_waker(quota_waker_);
  if (excess_handler_ >= 0) broker_.connection_quotas().remove_excess_handler(excess_handler_);
}

void Listener::start() {
  asio::co_spawn(broker_.shards().at(0).executor(), accept_loop(), asio::detached);
  // Scheduled with connections.max.idle.ms = -1 too: the sweep also logs
  // requests left unanswered.
  for (int s = 0; s < broker_.shards().size(); ++s)
    asio::post(broker_.shards().at(s).executor(), [this, s] { schedule_idle_sweep(s); });
}

void Listener::schedule_idle_sweep(int s) {
  const int64_t max_idle_ms = broker_.config().connections_max_idle_ms;
  const auto every =
      std::chrono::milliseconds(max_idle_ms < 0 ? 10'000 : std::clamp<int64_t>(max_idle_ms / 10, 100, 10'000));
  idle_timers_[s]->expires_after(every);
  idle_timers_[s]->async_wait([this, s, sweeping = sweeping_[s]](const std::error_code& ec) {
    // stop() cleared the flag on this shard: `this` may be gone by now.
    if (!*sweeping || ec) return;
    sweep_idle(s);
    schedule_idle_sweep(s);
  });
}

void Listener::sweep_idle(int s) {
  const int64_t max_idle_ns = broker_.config().connections_max_idle_ms * 1'000'000;
  const int64_t now = monotonic_ns();
  std::vector<std::shared_ptr<Connection>> idle;
  for (const auto& connection : open_[s]) {
    if (max_idle_ns >= 0 && connection->idle_longer_than(now, max_idle_ns)) idle.push_back(connection);
    connection->log_unanswered(now, kUnansweredLogNs);
  }
  for (const auto& connection : idle) {
    // Kafka's Selector closes such a channel with a debug line too.
    spdlog::debug("listener {}: closing a connection idle for over {} ms (connections.max.idle.ms)", config_.name,
                  broker_.config().connections_max_idle_ms);
    connection->close();
  }
  if (quota_index_ >= 0 && !idle.empty()) broker_.connection_quotas().add_idle_closed(quota_index_, idle.size());
}

void Listener::close_excess(int s) {
  if (stopping_) return;
  auto& quotas = broker_.connection_quotas();
  while (quotas.reserve_excess_close(quota_index_)) {
    std::shared_ptr<Connection> lru;
    for (const auto& c : open_[s])
      if (!c->in_process() && !excess_closing_[s].contains(c) &&
          (!lru || c->last_activity_ns() < lru->last_activity_ns()))
        lru = c;
    if (!lru) {
      quotas.excess_close_released();
      return;
    }
    spdlog::info("listener {}: closing the least recently used connection: the broker is over max.connections",
                 config_.name);
    excess_closing_[s].insert(lru);
    quotas.add_excess_closed(quota_index_);
    lru->close();
  }
}

void Listener::stop() {
  stopping_ = true;
  // No wake-up is posted after this; those already posted run before the
  // task below, on shard 0.
  if (quota_waker_ >= 0) broker_.connection_quotas().remove_waker(quota_waker_);
  quota_waker_ = -1;
  if (excess_handler_ >= 0) broker_.connection_quotas().remove_excess_handler(excess_handler_);
  excess_handler_ = -1;
  auto& shards = broker_.shards();
  for (int s = 0; s < shards.size(); ++s) {
    std::promise<void> done;
    asio::post(shards.at(s).executor(), [this, s, &done] {
      if (s == 0) {
        std::error_code ec;
        acceptor_.close(ec);
        slot_wait_.cancel();
      }
      *sweeping_[s] = false;
      idle_timers_[s]->cancel();
      for (const auto& connection : open_[s]) connection->close();
      done.set_value();
    });
    done.get_future().wait();
  }
}

int Listener::connect_in_process(const std::string& principal, const std::string& peer) {
  if (stopping_) {
    errno = EPIPE;
    return -1;
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -1;
  auto& shards = broker_.shards();
  int shard_id = static_cast<int>(next_in_process_shard_.fetch_add(1, std::memory_order_relaxed) % shards.size());
  VouchedIdentity vouched{principal, peer};
  // The server's end is adopted on its shard, as an accepted socket is; the
  // client may write at once (the socket buffers until the shard reads).
  asio::post(shards.at(shard_id).executor(), [this, shard_id, fd = fds[0], vouched] {
    if (stopping_) {
      ::close(fd);
      return;
    }
    Shard& shard = broker_.shards().at(shard_id);
    asio::ip::tcp::socket socket(shard.io());
    std::error_code ec;
    socket.assign(asio::ip::tcp::v4(), fd, ec);
    if (ec) {
      spdlog::warn("in-process connection for {}: {}", vouched.principal, ec.message());
      ::close(fd);
      return;
    }
    auto connection =
        std::make_shared<Connection>(broker_, shard, std::move(socket), config_, nullptr, nullptr, &vouched);
    open_[shard_id].insert(connection);
    asio::co_spawn(
        shard.executor(), [connection] { return connection->run(); },
        [this, shard_id, connection](std::exception_ptr) {
          open_[shard_id].erase(connection);
          MemoryTrimmer::note_connection_closed();
        });
  });
  return fds[1];
}

asio::awaitable<bool> Listener::admit(const std::string& address, int64_t* close_after_ms) {
  auto& quotas = broker_.connection_quotas();
  std::optional<std::chrono::steady_clock::time_point> blocked_since;
  // The connection creation rate first (Kafka's acceptor throttles, then
  // waits for a slot): the accept loop, and so this listener, waits.
  const auto now = std::chrono::steady_clock::now();
  const int64_t delay_ms = quotas.record_connection(
      quota_index_, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  if (delay_ms > 0) {
    blocked_since = now;
    spdlog::debug("listener {}: connection creation rate over its limit, accepting {} in {} ms", config_.name, address,
                  delay_ms);
    const auto until = now + std::chrono::milliseconds(delay_ms);
    std::error_code ec;
    // A new limit wakes slot waits too; the rest of the delay is kept.
    while (std::chrono::steady_clock::now() < until) {
      slot_wait_.expires_at(until);
      co_await slot_wait_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || !acceptor_.is_open()) co_return false;
    }
  }
  for (;;) {
    // Counted as waiting before the check, so that a slot freed between the
    // check and the wait still wakes it (the wake-up is posted to this
    // thread, which does not yield in between).
    quotas.note_waiting(1);
    int32_t limit = 0;
    int64_t throttle_ms = 0;
    auto admission = quotas.admit(quota_index_, address, &limit, &throttle_ms);
    if (admission != ConnectionQuotas::Admission::kNoSlot) {
      quotas.note_waiting(-1);
      if (blocked_since)
        quotas.add_blocked_ns(
            quota_index_,
            static_cast<uint64_t>(std::chrono::nanoseconds(std::chrono::steady_clock::now() - *blocked_since).count()));
      if (admission == ConnectionQuotas::Admission::kAdmitted) co_return true;
      if (admission == ConnectionQuotas::Admission::kIpThrottled) {
        // Kafka's Acceptor: held for the throttle time, then closed.
        spdlog::debug("listener {}: {} is over its connection_creation_rate quota, closing in {} ms", config_.name,
                      address, throttle_ms);
        *close_after_ms = throttle_ms;
        co_return false;
      }
      // Kafka's Acceptor: logged and closed at once.
      spdlog::info(
          "Rejected connection from {} on listener {}, address already has the configured maximum of {} "
          "connections.",
          address, config_.name, limit);
      co_return false;
    }
    if (!blocked_since) {
      blocked_since = std::chrono::steady_clock::now();
      spdlog::debug("listener {}: no connection slot (max.connections), waiting", config_.name);
    }
    // Woken by a closed connection or a new limit; the timeout only guards
    // against a lost wake-up.
    slot_wait_.expires_after(std::chrono::seconds(1));
    std::error_code ec;
    co_await slot_wait_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    quotas.note_waiting(-1);
    if (stopping_ || !acceptor_.is_open()) co_return false;
  }
}

void Listener::close_later(Shard& shard, asio::ip::tcp::socket socket, int64_t delay_ms) {
  auto held = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  auto timer = std::make_shared<asio::steady_timer>(shard.io(), std::chrono::milliseconds(delay_ms));
  timer->async_wait([held, timer](std::error_code) {
    std::error_code ignored;
    held->close(ignored);
  });
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
    // The client's address, as the quotas count it (an IPv4 client of a
    // dual-stack socket as IPv4).
    auto peer = socket.remote_endpoint(ec);
    if (ec) continue;  // already gone; the socket closes here
    auto ip = peer.address();
    if (ip.is_v6() && ip.to_v6().is_v4_mapped()) ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
    std::string address = ip.to_string();
    if (quota_index_ >= 0) {
      int64_t close_after_ms = 0;
      bool admitted = co_await admit(address, &close_after_ms);
      if (!admitted) {
        if (close_after_ms > 0) close_later(shard, std::move(socket), close_after_ms);
        continue;  // else the socket closes here
      }
    }
    auto connection = std::make_shared<Connection>(broker_, shard, std::move(socket), config_,
                                                   tls_ ? tls_->current() : nullptr, principal_mapper_);
    // Registered and deregistered on the connection's own shard.
    asio::post(shard.executor(), [this, &shard, connection, address] {
      if (stopping_) {  // raced with stop(): never served
        if (quota_index_ >= 0) broker_.connection_quotas().release(quota_index_, address);
        return;
      }
      serve(shard, connection, address);
    });
  }
}

void Listener::serve(Shard& shard, const std::shared_ptr<Connection>& connection, const std::string& address) {
  const int shard_id = shard.id();
  open_[shard_id].insert(connection);
  asio::co_spawn(
      shard.executor(), [connection] { return connection->run(); },
      [this, shard_id, connection, address](std::exception_ptr) {
        open_[shard_id].erase(connection);
        if (excess_closing_[shard_id].erase(connection)) {
          // Released before its reservation ends, so that the count never
          // looks over the limit by one it already dealt with.
          ended(address);
          broker_.connection_quotas().excess_close_released();
          return;
        }
        Shard* target = connection->moving_to();
        const int fd = target ? connection->detach_socket(*target) : -1;
        if (fd < 0) {
          ended(address);
          return;
        }
        asio::post(target->executor(), [this, target, fd, connection, address] {
          if (stopping_) {  // raced with stop(): closed, never served there
            ::close(fd);
            ended(address);
          } else if (connection->attach(*target, fd)) {
            serve(*target, connection, address);
          } else {
            ended(address);
          }
        });
      });
}

void Listener::ended(const std::string& address) {
  if (quota_index_ >= 0) broker_.connection_quotas().release(quota_index_, address);
  MemoryTrimmer::note_connection_closed();
}

}  // namespace runnel
