#include "kafka/txn_marker_sender.h"

#include <spdlog/spdlog.h>

#include <set>

#include "base/await_callback.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<std::vector<ErrorCode>> TxnMarkerSender::send(int32_t node, const std::string& host, int32_t port,
                                                              const txn::MarkerRequest& marker) {
  if (marker.partitions.empty()) co_return std::vector<ErrorCode>{};
  if (stopped_) co_return std::vector<ErrorCode>(marker.partitions.size(), ErrorCode::NOT_LEADER_OR_FOLLOWER);
  co_return co_await await_callback<std::vector<ErrorCode>>([&](Done done) {
    Node& n = nodes_[node];
    n.host = host;
    n.port = port;
    n.queued.push_back({marker, std::move(done)});
    if (!n.sending) {
      n.sending = true;
      asio::co_spawn(io_, send_loop(node), asio::detached);
    }
  });
}

void TxnMarkerSender::answer_all(std::vector<Waiter>& batch, ErrorCode error) {
  for (auto& w : batch) w.done(std::vector<ErrorCode>(w.marker.partitions.size(), error));
  batch.clear();
}

void TxnMarkerSender::stop() {
  stopped_ = true;
  for (auto& [_, n] : nodes_) {
    std::vector<Waiter> queued(std::make_move_iterator(n.queued.begin()), std::make_move_iterator(n.queued.end()));
    n.queued.clear();
    answer_all(queued, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    if (n.peer) n.peer->close();
  }
}

asio::awaitable<void> TxnMarkerSender::send_loop(int32_t node) {
  Node& n = nodes_[node];
  while (!stopped_ && !n.queued.empty()) {
    // One entry per producer in a request (the answer names markers by
    // producer id): a second marker of the same producer waits for the next.
    std::vector<Waiter> batch;
    std::set<int64_t> producers;
    for (auto it = n.queued.begin(); it != n.queued.end();) {
      if (producers.insert(it->marker.producer_id).second) {
        batch.push_back(std::move(*it));
        it = n.queued.erase(it);
      } else {
        ++it;
      }
    }
    co_await send_batch(n, batch);
    answer_all(batch, ErrorCode::NOT_LEADER_OR_FOLLOWER);  // anything the answer left out
  }
  if (stopped_) {
    std::vector<Waiter> queued(std::make_move_iterator(n.queued.begin()), std::make_move_iterator(n.queued.end()));
    n.queued.clear();
    answer_all(queued, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  }
  n.sending = false;
}

asio::awaitable<void> TxnMarkerSender::send_batch(Node& n, std::vector<Waiter>& batch) {
  protocol::WriteTxnMarkersRequest request;
  for (const auto& w : batch) {
    auto& entry = request.markers.emplace_back();
    entry.producer_id = w.marker.producer_id;
    entry.producer_epoch = w.marker.producer_epoch;
    entry.transaction_result = w.marker.commit;
    entry.coordinator_epoch = w.marker.coordinator_epoch;
    for (const auto& tp : w.marker.partitions) {
      if (entry.topics.empty() || entry.topics.back().name != tp.topic) entry.topics.emplace_back().name = tp.topic;
      entry.topics.back().partition_indexes.push_back(tp.partition);
    }
  }
  if (!n.peer)
    n.peer = std::make_unique<PeerConnection>(io_, "transaction markers", "runnel-txn-coordinator", sasl_, tls_,
                                              connections_made_);
  auto reply = co_await n.peer->call(n.host, n.port, request, kVersion, kRequestTimeout);
  if (!reply.body) co_return;  // the caller answers NOT_LEADER_OR_FOLLOWER
  protocol::WriteTxnMarkersResponse response;
  try {
    protocol::Reader reader(reply.body->body);
    response.read(reader, kVersion);
  } catch (const protocol::DecodeError&) {
    spdlog::warn("transaction markers: an unreadable answer from {}:{}", n.host, n.port);
    co_return;
  }
  std::map<int64_t, std::map<std::pair<std::string, int32_t>, ErrorCode>> by_producer;
  for (const auto& m : response.markers)
    for (const auto& t : m.topics)
      for (const auto& pr : t.partitions)
        by_producer[m.producer_id][{t.name, pr.partition_index}] = static_cast<ErrorCode>(pr.error_code);
  for (auto& w : batch) {
    const auto found = by_producer.find(w.marker.producer_id);
    std::vector<ErrorCode> errors;
    errors.reserve(w.marker.partitions.size());
    for (const auto& tp : w.marker.partitions) {
      ErrorCode error = ErrorCode::NOT_LEADER_OR_FOLLOWER;  // not named in the answer: retried
      if (found != by_producer.end())
        if (auto e = found->second.find({tp.topic, tp.partition}); e != found->second.end()) error = e->second;
      errors.push_back(error);
    }
    w.done(std::move(errors));
  }
  batch.clear();
}

}  // namespace runnel
