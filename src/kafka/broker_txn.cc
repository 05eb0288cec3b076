// The Broker's part in transactions: where a transactional id's coordinator
// lives, the __transaction_state topic, and the routing of transaction
// markers to the brokers that lead their partitions.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "kafka/broker.h"
#include "kafka/txn_marker_sender.h"
#include "runtime/on_shards.h"

namespace runnel {

Shard& Broker::txn_coordinator_shard(const std::string& transactional_id) {
  return owner(txn::kTransactionStateTopic, txn::state_partition_for(transactional_id, txn_partitions_));
}

int32_t Broker::default_txn_state_partitions() const {
  if (config_.transaction_state_log_num_partitions > 0) return config_.transaction_state_log_num_partitions;
  if (config_.clustered()) return txn::kKafkaStatePartitions;
  // One node: its syncs, not its partitions, are what costs (see the config).
  return static_cast<int32_t>(shards_.size());
}

txn::Coordinator& Broker::txn_coordinator() { return *txn_coordinators_[current_shard()->id()]; }

int32_t Broker::txn_coordinator_node(const std::string& transactional_id) const {
  return coordinating_leader(txn::kTransactionStateTopic, txn::state_partition_for(transactional_id, txn_partitions_),
                             /*acting_only=*/true);
}

int32_t Broker::named_txn_coordinator_node(const std::string& transactional_id) const {
  return coordinating_leader(txn::kTransactionStateTopic, txn::state_partition_for(transactional_id, txn_partitions_),
                             /*acting_only=*/false);
}

ErrorCode Broker::txn_coordinator_error(const std::string& transactional_id) {
  if (txn_coordinator_node(transactional_id) != config_.node_id) return ErrorCode::NOT_COORDINATOR;
  return txn_coordinator().coordinator_error(transactional_id);
}

asio::awaitable<std::vector<ErrorCode>> Broker::verify_txn_partitions(
    const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
    const std::vector<txn::TopicPartition>& partitions) {
  const int32_t node = txn_coordinator_node(transactional_id);
  if (node < 0) co_return std::vector<ErrorCode>(partitions.size(), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  if (node == config_.node_id) {
    if (!topics_.find(txn::kTransactionStateTopic))
      co_return std::vector<ErrorCode>(partitions.size(), ErrorCode::NOT_COORDINATOR);
    auto verify = [this, &transactional_id, producer_id, producer_epoch, &partitions]() {
      if (auto error = txn_coordinator_error(transactional_id); error != ErrorCode::NONE)
        return std::vector<ErrorCode>(partitions.size(), error);
      return txn_coordinator().verify_partitions(transactional_id, producer_id, producer_epoch, partitions);
    };
    co_return co_await on_shard(txn_coordinator_shard(transactional_id), verify);
  }
  auto where = inter_broker_endpoint(node);
  if (!where) co_return std::vector<ErrorCode>(partitions.size(), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  const std::string host = where->host;
  co_return co_await txn_verifiers_[static_cast<size_t>(current_shard()->id())]->verify(
      node, host, where->port, transactional_id, producer_id, producer_epoch, partitions);
}

asio::awaitable<bool> Broker::ensure_transaction_state_topic() {
  if (topics_.find(txn::kTransactionStateTopic)) co_return true;
  std::string message;
  // transaction.state.log.replication.factor and .min.isr, capped at the live
  // brokers, as for __consumer_offsets.
  int16_t replication_factor = 1;
  if (control_plane_)
    replication_factor = static_cast<int16_t>(std::clamp<size_t>(control_plane_->cache().brokers().size(), 1,
                                                                 config_.transaction_state_log_replication_factor));
  int32_t min_isr = std::clamp<int32_t>(config_.transaction_state_log_min_isr, 1, replication_factor);
  const std::map<std::string, std::string> overrides = {
      {"segment.bytes", std::to_string(config_.transaction_state_log_segment_bytes)},
      {"min.insync.replicas", std::to_string(min_isr)}};
  auto error = co_await create_topic(txn::kTransactionStateTopic, txn_partitions_, replication_factor, nullptr,
                                     overrides, &message, /*internal=*/true);
  if (error != ErrorCode::NONE && error != ErrorCode::TOPIC_ALREADY_EXISTS) {
    spdlog::warn("creating {} failed: {}", txn::kTransactionStateTopic, message);
    co_return false;
  }
  if (!control_plane_ && error == ErrorCode::NONE) {
    // A single node leads every partition from the start: its coordinators
    // take the new (empty) partitions now. In a cluster the leadership hook
    // does it.
    for (int s = 0; s < shards_.size(); ++s) {
      auto load = [this, s]() {
        for (int32_t p = 0; p < txn_partitions_; ++p)
          if (&owner(txn::kTransactionStateTopic, p) == &shards_.at(s)) txn_coordinators_[s]->load(p);
        return 0;
      };
      co_await on_shard(shards_.at(s), load);
    }
  }
  co_return true;
}

asio::awaitable<std::vector<ErrorCode>> Broker::write_markers_anywhere(const txn::MarkerRequest& request) {
  std::vector<ErrorCode> errors(request.partitions.size(), ErrorCode::NONE);
  std::vector<TxnMarkerPartition> local;
  std::vector<size_t> local_index;
  std::map<int32_t, std::vector<TxnMarkerPartition>> remote;  // by leader
  std::map<int32_t, std::vector<size_t>> remote_index;
  for (size_t i = 0; i < request.partitions.size(); ++i) {
    const auto& tp = request.partitions[i];
    auto info = topics_.find(tp.topic);
    if (!info || tp.partition < 0 || tp.partition >= info->partitions) {
      errors[i] = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;  // deleted: nothing to mark
      continue;
    }
    int32_t leader = config_.node_id;
    if (control_plane_) {
      auto state = control_plane_->cache().partition(tp.topic, tp.partition);
      leader = state ? state->leader : -1;
    }
    if (leader != config_.node_id) {
      // Led elsewhere: a WriteTxnMarkers request to the leader. No leader
      // yet: retried by the coordinator.
      errors[i] = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      if (leader >= 0) {
        remote[leader].push_back({tp.topic, tp.partition});
        remote_index[leader].push_back(i);
      }
      continue;
    }
    local.push_back({tp.topic, tp.partition});
    local_index.push_back(i);
  }
  // Every broker's markers and this broker's own at once: each waits for
  // acks=all, and one broker's wait should not hold up the others'.
  std::vector<ShardJob<std::vector<ErrorCode>>> jobs;
  std::vector<const std::vector<size_t>*> job_index;
  Shard* here = current_shard();
  for (const auto& [node, partitions] : remote) {
    auto where = inter_broker_endpoint(node);
    if (!where) continue;
    auto& sender = *txn_marker_senders_[static_cast<size_t>(here->id())];
    jobs.push_back({here,
                    [&sender, node, host = where->host, port = where->port, &request,
                     &partitions]() -> asio::awaitable<std::vector<ErrorCode>> {
                      txn::MarkerRequest to_node = request;
                      to_node.partitions.clear();
                      for (const auto& tp : partitions) to_node.partitions.push_back({tp.topic, tp.partition});
                      co_return co_await sender.send(node, host, port, to_node);
                    }});
    job_index.push_back(&remote_index[node]);
  }
  if (!local.empty()) {
    jobs.push_back({here, [this, &request, &local]() -> asio::awaitable<std::vector<ErrorCode>> {
                      co_return co_await write_txn_markers(request.producer_id, request.producer_epoch, request.commit,
                                                           request.coordinator_epoch, local);
                    }});
    job_index.push_back(&local_index);
  }
  auto written = co_await on_shards_concurrently(jobs, std::vector<ErrorCode>{});
  for (size_t k = 0; k < jobs.size(); ++k) {
    const auto& index = *job_index[k];
    for (size_t j = 0; j < index.size(); ++j)
      errors[index[j]] = j < written[k].size() ? written[k][j] : ErrorCode::NOT_LEADER_OR_FOLLOWER;
  }
  co_return errors;
}

}  // namespace runnel
