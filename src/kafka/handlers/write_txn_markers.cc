// WriteTxnMarkers (key 27): a transaction coordinator (on another broker, or
// a test) asks this broker to write COMMIT or ABORT markers to partitions it
// leads. Each marker of the request goes through Broker::write_txn_markers,
// which answers once every marker is acknowledged as acks=all; the markers of
// one request are written concurrently. Inter-broker:
// with an authorizer the sender needs CLUSTER_ACTION on the cluster (else every
// partition fails with CLUSTER_AUTHORIZATION_FAILED), as Kafka's.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"
#include "runtime/on_shards.h"

namespace runnel {

asio::awaitable<protocol::WriteTxnMarkersResponse> handle_write_txn_markers(RequestContext& ctx,
                                                                            protocol::WriteTxnMarkersRequest& request) {
  using Response = protocol::WriteTxnMarkersResponse;
  Response response;
  const bool denied = !authorized_cluster(ctx, security::AclOperation::ClusterAction);
  // The markers of one request are other transactions' (a coordinator
  // batches what queued for this broker): written at once, so that one
  // marker's wait for acks=all does not hold up the next.
  std::vector<std::vector<TxnMarkerPartition>> partitions(request.markers.size());
  std::vector<ShardJob<std::vector<ErrorCode>>> jobs;
  for (size_t m = 0; m < request.markers.size(); ++m) {
    const auto& marker = request.markers[m];
    for (const auto& topic : marker.topics)
      for (int32_t index : topic.partition_indexes) partitions[m].push_back({topic.name, index});
    if (denied) continue;
    jobs.push_back(
        {current_shard(), [&ctx, &marker, &mine = partitions[m]]() -> asio::awaitable<std::vector<ErrorCode>> {
           co_return co_await ctx.broker.write_txn_markers(marker.producer_id, marker.producer_epoch,
                                                           marker.transaction_result, marker.coordinator_epoch, mine);
         }});
  }
  auto written = co_await on_shards_concurrently(jobs, std::vector<ErrorCode>{});
  for (size_t m = 0; m < request.markers.size(); ++m) {
    const auto& marker = request.markers[m];
    std::vector<ErrorCode> errors(partitions[m].size(), ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    if (!denied) {
      errors.assign(partitions[m].size(), ErrorCode::UNKNOWN_SERVER_ERROR);
      for (size_t i = 0; i < errors.size() && i < written[m].size(); ++i) errors[i] = written[m][i];
    }
    auto& result = response.markers.emplace_back();
    result.producer_id = marker.producer_id;
    size_t i = 0;
    for (const auto& topic : marker.topics) {
      auto& tr = result.topics.emplace_back();
      tr.name = topic.name;
      for (int32_t index : topic.partition_indexes) {
        auto& pr = tr.partitions.emplace_back();
        pr.partition_index = index;
        pr.error_code = code(errors[i++]);
      }
    }
  }
  co_return response;
}

}  // namespace runnel
