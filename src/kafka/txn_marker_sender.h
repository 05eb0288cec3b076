#pragma once
// The transaction coordinator's way to the partitions other brokers lead
// (Kafka's TransactionMarkerChannelManager): WriteTxnMarkers to each broker
// over one connection kept open between requests (kafka/peer_connection.h),
// at most one request per broker in flight. Markers for a broker that arrive
// while its request is out queue and go together in the next one, one entry
// per transaction, so that many producers committing at once cost a request
// per broker per round rather than one connection per transaction.
//
// What a send yields, one error per partition: the peer's answer for it, or
// NOT_LEADER_OR_FOLLOWER when the peer cannot be reached, refuses this
// broker's login or answers nothing usable (the coordinator retries those
// partitions, with their leaders looked up again).
//
// Thread-safety: none; one per shard, used from that shard's coroutines.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "config/broker_config.h"
#include "kafka/peer_connection.h"
#include "txn/coordinator.h"

namespace runnel {

class TxnMarkerSender {
 public:
  static constexpr int16_t kVersion = 1;
  // A peer answers once every marker is acknowledged as acks=all, which may
  // take up to its write timeout (30 s): a little more than that.
  static constexpr auto kRequestTimeout = std::chrono::seconds(35);

  // `connections_made`, when given, counts the connections opened to peers
  // (for /metrics; it must outlive this).
  TxnMarkerSender(asio::io_context& io, std::optional<InterBrokerSasl> sasl,
                  std::shared_ptr<const security::TlsContextSource> tls = nullptr,
                  std::atomic<uint64_t>* connections_made = nullptr)
      : io_(io), sasl_(std::move(sasl)), tls_(std::move(tls)), connections_made_(connections_made) {}

  // Writes `marker` to its partitions (all led by `node`, at host:port).
  asio::awaitable<std::vector<ErrorCode>> send(int32_t node, const std::string& host, int32_t port,
                                               const txn::MarkerRequest& marker);
  // Answers every waiter NOT_LEADER_OR_FOLLOWER and sends nothing more.
  void stop();

 private:
  using Done = std::function<void(std::vector<ErrorCode>)>;
  struct Waiter {
    txn::MarkerRequest marker;
    Done done;
  };
  struct Node {
    std::string host;
    int32_t port = 0;
    std::deque<Waiter> queued;
    bool sending = false;
    std::unique_ptr<PeerConnection> peer;  // made on the first request
  };

  asio::awaitable<void> send_loop(int32_t node);
  // Sends one request for `batch` and answers its waiters.
  asio::awaitable<void> send_batch(Node& n, std::vector<Waiter>& batch);
  static void answer_all(std::vector<Waiter>& batch, ErrorCode error);

  asio::io_context& io_;
  std::optional<InterBrokerSasl> sasl_;
  std::shared_ptr<const security::TlsContextSource> tls_;
  std::atomic<uint64_t>* connections_made_;
  std::map<int32_t, Node> nodes_;
  bool stopped_ = false;
};

}  // namespace runnel
