#include "kafka/txn_verifier.h"

#include <spdlog/spdlog.h>

#include <set>

#include "base/await_callback.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<std::vector<ErrorCode>> TxnVerifier::verify(int32_t node, const std::string& host, int32_t port,
                                                            const std::string& transactional_id, int64_t producer_id,
                                                            int16_t producer_epoch,
                                                            const std::vector<txn::TopicPartition>& partitions) {
  if (partitions.empty()) co_return std::vector<ErrorCode>{};
  if (stopped_) co_return std::vector<ErrorCode>(partitions.size(), ErrorCode::NETWORK_EXCEPTION);
  {
    Node& n = nodes_[node];
    n.host = host;
    n.port = port;
  }
  co_return co_await await_callback<std::vector<ErrorCode>>(
      [&](Done done) { enqueue(node, transactional_id, producer_id, producer_epoch, partitions, std::move(done)); });
}

void TxnVerifier::enqueue(int32_t node, const std::string& transactional_id, int64_t producer_id,
                          int16_t producer_epoch, std::vector<txn::TopicPartition> partitions, Done done) {
  Node& n = nodes_[node];
  auto [it, created] = n.queued.try_emplace(transactional_id);
  Queued& q = it->second;
  if (!created && producer_epoch < q.producer_epoch) {
    // Fenced by the one already waiting (AddPartitionsToTxnManager.addTxnData).
    done(std::vector<ErrorCode>(partitions.size(), ErrorCode::INVALID_PRODUCER_EPOCH));
    return;
  }
  if (!created && (producer_epoch > q.producer_epoch || producer_id != q.producer_id)) {
    for (auto& w : q.waiters) w.done(std::vector<ErrorCode>(w.partitions.size(), ErrorCode::INVALID_PRODUCER_EPOCH));
    q.waiters.clear();
  }
  q.producer_id = producer_id;
  q.producer_epoch = producer_epoch;
  q.waiters.push_back({std::move(partitions), std::move(done)});
  if (!n.sending) {
    n.sending = true;
    asio::co_spawn(io_, send_loop(node), asio::detached);
  }
}

void TxnVerifier::answer_all(std::map<std::string, Queued>& batch, ErrorCode error) {
  for (auto& [_, q] : batch)
    for (auto& w : q.waiters) w.done(std::vector<ErrorCode>(w.partitions.size(), error));
  batch.clear();
}

void TxnVerifier::stop() {
  stopped_ = true;
  for (auto& [_, n] : nodes_) {
    answer_all(n.queued, ErrorCode::NETWORK_EXCEPTION);
    if (n.peer) n.peer->close();
  }
}

asio::awaitable<void> TxnVerifier::send_loop(int32_t node) {
  Node& n = nodes_[node];
  while (!stopped_ && !n.queued.empty()) {
    std::map<std::string, Queued> batch;
    batch.swap(n.queued);
    co_await send(n, batch);
    answer_all(batch, ErrorCode::NETWORK_EXCEPTION);  // anything the answer left out
  }
  if (stopped_) answer_all(n.queued, ErrorCode::NETWORK_EXCEPTION);
  n.sending = false;
}

asio::awaitable<void> TxnVerifier::send(Node& n, std::map<std::string, Queued>& batch) {
  // The request: per transactional id the union of its waiters' partitions.
  protocol::AddPartitionsToTxnRequest request;
  for (const auto& [id, q] : batch) {
    auto& t = request.transactions.emplace_back();
    t.transactional_id = id;
    t.producer_id = q.producer_id;
    t.producer_epoch = q.producer_epoch;
    t.verify_only = true;
    std::map<std::string, std::set<int32_t>> by_topic;
    for (const auto& w : q.waiters)
      for (const auto& tp : w.partitions) by_topic[tp.topic].insert(tp.partition);
    for (const auto& [topic, ids] : by_topic) {
      auto& topic_entry = t.topics.emplace_back();
      topic_entry.name = topic;
      topic_entry.partitions.assign(ids.begin(), ids.end());
    }
  }

  if (!n.peer)
    n.peer = std::make_unique<PeerConnection>(io_, "transaction verification", "runnel-txn-verifier", sasl_, tls_,
                                              connections_made_);
  auto reply = co_await n.peer->call(n.host, n.port, request, kVersion, kRequestTimeout);
  if (!reply.body) {
    answer_all(batch, reply.error);
    co_return;
  }
  const auto& body = reply.body;
  protocol::AddPartitionsToTxnResponse response;
  try {
    protocol::Reader reader(body->body);
    response.read(reader, kVersion);
  } catch (const protocol::DecodeError&) {
    answer_all(batch, ErrorCode::NETWORK_EXCEPTION);
    co_return;
  }
  if (response.error_code != 0) {
    auto error = static_cast<ErrorCode>(response.error_code);
    spdlog::error("transaction verification: the coordinator at {}:{} refused the request: {}", n.host, n.port,
                  error_name(error));
    // The producer must not be told about the cluster's ACLs.
    answer_all(batch, error == ErrorCode::CLUSTER_AUTHORIZATION_FAILED ? ErrorCode::INVALID_TXN_STATE : error);
    co_return;
  }
  for (const auto& result : response.results_by_transaction) {
    auto it = batch.find(result.transactional_id);
    if (it == batch.end()) continue;
    std::map<std::pair<std::string, int32_t>, ErrorCode> errors;
    for (const auto& topic : result.topic_results)
      for (const auto& pr : topic.results_by_partition) {
        auto error = static_cast<ErrorCode>(pr.partition_error_code);
        // Producers expect INVALID_PRODUCER_EPOCH here.
        if (error == ErrorCode::PRODUCER_FENCED) error = ErrorCode::INVALID_PRODUCER_EPOCH;
        errors[{topic.name, pr.partition_index}] = error;
      }
    for (auto& w : it->second.waiters) {
      std::vector<ErrorCode> out;
      out.reserve(w.partitions.size());
      for (const auto& tp : w.partitions) {
        auto e = errors.find({tp.topic, tp.partition});
        // A partition the answer does not name was not verified.
        out.push_back(e == errors.end() ? ErrorCode::NETWORK_EXCEPTION : e->second);
      }
      w.done(std::move(out));
    }
    batch.erase(it);
  }
}

}  // namespace runnel
