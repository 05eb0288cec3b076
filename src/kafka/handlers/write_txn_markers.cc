// WriteTxnMarkers (key 27): a transaction coordinator (on another broker, or
// a test) asks this broker to write COMMIT or ABORT markers to partitions it
// leads. Each marker of the request goes through Broker::write_txn_markers,
// which answers once every marker is acknowledged as acks=all. Inter-broker:
// with an authorizer the sender needs CLUSTER_ACTION on the cluster (else every
// partition fails with CLUSTER_AUTHORIZATION_FAILED), as Kafka's.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::WriteTxnMarkersResponse> handle_write_txn_markers(RequestContext& ctx,
                                                                            protocol::WriteTxnMarkersRequest& request) {
  using Response = protocol::WriteTxnMarkersResponse;
  Response response;
  const bool denied = !authorized_cluster(ctx, security::AclOperation::ClusterAction);
  for (const auto& marker : request.markers) {
    std::vector<TxnMarkerPartition> partitions;
    for (const auto& topic : marker.topics)
      for (int32_t index : topic.partition_indexes) partitions.push_back({topic.name, index});
    std::vector<ErrorCode> errors(partitions.size(), ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    if (!denied)
      errors = co_await ctx.broker.write_txn_markers(marker.producer_id, marker.producer_epoch,
                                                     marker.transaction_result, marker.coordinator_epoch, partitions);
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
