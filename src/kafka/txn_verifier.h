#pragma once
// KIP-890 part 1 on the partition leader's side (Kafka's
// AddPartitionsToTxnManager): asks a transaction coordinator on another
// broker whether partitions are in a producer's ongoing transaction, with
// AddPartitionsToTxn v5, verify_only=true, over one connection per
// coordinator broker kept open between requests (kafka/peer_connection.h).
//
// Batching, as Kafka's: the verifications waiting for one broker go in one
// request; while a request to it is in flight, new ones queue for the next.
// Two for the same transactional id waiting together: a higher epoch sends
// the older one away with INVALID_PRODUCER_EPOCH (a lower one is sent away
// itself); the same epoch joins it (Kafka answers the first
// NETWORK_EXCEPTION instead, which only makes the producer retry).
//
// What a verification yields, one error per partition: the coordinator's
// (NONE, TRANSACTION_ABORTABLE, INVALID_PRODUCER_ID_MAPPING,
// CONCURRENT_TRANSACTIONS, NOT_COORDINATOR, ...) with PRODUCER_FENCED made
// INVALID_PRODUCER_EPOCH, as producers expect; a request refused as a whole
// for its top-level error (CLUSTER_AUTHORIZATION_FAILED made
// INVALID_TXN_STATE: the producer must not see the cluster's ACLs);
// NETWORK_EXCEPTION when the broker cannot be reached or answers nothing
// usable, or when the TLS handshake with it fails (a certificate fixed on
// either side heals it); SASL_AUTHENTICATION_FAILED when it refuses this
// broker's login.
//
// Thread-safety: none; one per shard, used from that shard's coroutines.
#include <asio.hpp>
#include <atomic>
#include <cstdint>
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

class TxnVerifier {
 public:
  // The version sent (Kafka's brokers send their latest, 5).
  static constexpr int16_t kVersion = 5;
  // How long one request may take before its waiters get NETWORK_EXCEPTION
  // (Kafka: request.timeout.ms).
  static constexpr auto kRequestTimeout = std::chrono::seconds(30);

  // `sasl` and `tls`: how the inter-broker listener is reached (as the
  // replication fetchers and the marker sender reach it). `connections_made`,
  // when given, counts the connections opened to coordinators (for /metrics;
  // it must outlive this).
  TxnVerifier(asio::io_context& io, std::optional<InterBrokerSasl> sasl,
              std::shared_ptr<const security::TlsContextSource> tls = nullptr,
              std::atomic<uint64_t>* connections_made = nullptr)
      : io_(io), sasl_(std::move(sasl)), tls_(std::move(tls)), connections_made_(connections_made) {}

  // Verifies `partitions` with the coordinator `node` at host:port.
  asio::awaitable<std::vector<ErrorCode>> verify(int32_t node, const std::string& host, int32_t port,
                                                 const std::string& transactional_id, int64_t producer_id,
                                                 int16_t producer_epoch,
                                                 const std::vector<txn::TopicPartition>& partitions);
  // Answers every waiter NETWORK_EXCEPTION and sends nothing more.
  void stop();

 private:
  using Done = std::function<void(std::vector<ErrorCode>)>;
  struct Waiter {
    std::vector<txn::TopicPartition> partitions;
    Done done;
  };
  struct Queued {
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    std::vector<Waiter> waiters;
  };
  struct Node {
    std::string host;
    int32_t port = 0;
    std::map<std::string, Queued> queued;  // by transactional id
    bool sending = false;
    std::unique_ptr<PeerConnection> peer;  // made on the first request
  };

  void enqueue(int32_t node, const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
               std::vector<txn::TopicPartition> partitions, Done done);
  asio::awaitable<void> send_loop(int32_t node);
  // Sends one batch and answers its waiters.
  asio::awaitable<void> send(Node& n, std::map<std::string, Queued>& batch);
  static void answer_all(std::map<std::string, Queued>& batch, ErrorCode error);

  asio::io_context& io_;
  std::optional<InterBrokerSasl> sasl_;
  std::shared_ptr<const security::TlsContextSource> tls_;
  std::atomic<uint64_t>* connections_made_;
  std::map<int32_t, Node> nodes_;
  bool stopped_ = false;
};

}  // namespace runnel
