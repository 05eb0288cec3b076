#pragma once
// What the connections of one shard count about the requests they serve, for
// /metrics: requests per API and version, requests that closed their
// connection (malformed, unsupported version, a handler's failure), and per
// API how long requests waited before their handler ran (queue: other
// requests of the connection ahead of them), how long the handler took
// (handle: for acks=all Produce this includes waiting for the sync), and how
// long the response then took to leave (send). Plus the shard's
// connections and network bytes, and the connections its transaction
// senders opened to other brokers.
//
// Thread-safety: one instance per shard, written by that shard's thread
// only; read by the scraper from any thread (relaxed atomics, no lock).
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "base/histogram.h"

namespace runnel {

class RequestMetrics {
 public:
  static constexpr int kMaxApiKey = 127;
  static constexpr int kMaxVersion = 31;

  struct Api {
    std::array<std::atomic<uint64_t>, kMaxVersion + 1> requests{};
    std::atomic<uint64_t> failed{0};
    Histogram queue{kLatencyBounds};
    Histogram handle{kLatencyBounds};
    Histogram send{kLatencyBounds};
  };

  // The API's counters, created on first use (on the owning shard); nullptr
  // for a key outside 0..kMaxApiKey. find() never creates (any thread).
  Api* api(int16_t api_key) {
    if (api_key < 0 || api_key > kMaxApiKey) return nullptr;
    auto& slot = apis_[static_cast<size_t>(api_key)];
    if (!slot.load(std::memory_order_acquire)) {
      owned_[static_cast<size_t>(api_key)] = std::make_unique<Api>();
      slot.store(owned_[static_cast<size_t>(api_key)].get(), std::memory_order_release);
    }
    return slot.load(std::memory_order_relaxed);
  }
  const Api* find(int16_t api_key) const {
    if (api_key < 0 || api_key > kMaxApiKey) return nullptr;
    return apis_[static_cast<size_t>(api_key)].load(std::memory_order_acquire);
  }

  static void add(std::atomic<uint64_t>& counter, uint64_t n = 1) { counter.fetch_add(n, std::memory_order_relaxed); }

  // Produce's two stages: from its handler starting to its batches appended
  // (the next request of the connection may then be read), and from there to
  // its answer ready (for acks=all: the wait for durability).
  Histogram produce_append{kLatencyBounds};
  Histogram produce_wait{kLatencyBounds};

  // Bytes of records sent to consumers, by topic. Touched on the owning
  // shard only: the scraper reads it with a task posted to the shard.
  std::unordered_map<std::string, uint64_t> topic_bytes_out;

  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  // Connections that moved to this shard (server/connection.h).
  std::atomic<uint64_t> connections_moved{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};

  // Connections this shard's transaction senders opened to other brokers
  // (each keeps its connection between requests, so these stay small).
  std::atomic<uint64_t> txn_marker_connections{0};
  std::atomic<uint64_t> txn_verifier_connections{0};

 private:
  std::array<std::atomic<Api*>, kMaxApiKey + 1> apis_{};
  std::array<std::unique_ptr<Api>, kMaxApiKey + 1> owned_;
};

}  // namespace runnel
