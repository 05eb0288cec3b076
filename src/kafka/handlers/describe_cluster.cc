// DescribeCluster (key 60): the cluster id, its live brokers and the controller;
// with include_cluster_authorized_operations, the operations the principal
// may do on the cluster (0 without DESCRIBE on it), as Kafka's AuthHelper.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeClusterResponse> handle_describe_cluster(RequestContext& ctx,
                                                                           protocol::DescribeClusterRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeClusterResponse response;
  // v1+ (KIP-919): a broker describes brokers (1); controllers (2) are
  // described by controllers, which runnel has not (etcd is its quorum).
  // IncludeFencedBrokers (v2) changes nothing: the list holds live brokers.
  response.endpoint_type = 1;
  if (request.endpoint_type != 1) {
    const bool known = request.endpoint_type == 2;
    response.error_code = code(ctx.api_version == 0 ? ErrorCode::INVALID_REQUEST
                               : known              ? ErrorCode::MISMATCHED_ENDPOINT_TYPE
                                                    : ErrorCode::UNSUPPORTED_ENDPOINT_TYPE);
    response.error_message = known ? "The request was sent to an endpoint of type BROKER, but we wanted an endpoint "
                                     "of type CONTROLLER"
                                   : "Unsupported endpoint type " + std::to_string(request.endpoint_type);
    co_return response;
  }
  if (request.include_cluster_authorized_operations)
    response.cluster_authorized_operations = cluster_authorized_operations(ctx);
  response.cluster_id = broker.cluster_id();
  response.controller_id = broker.controller_id();
  for (const auto& b : broker.cluster_brokers(ctx.listener)) {
    auto& out = response.brokers.emplace_back();
    out.broker_id = b.node_id;
    out.host = b.host;
    out.port = b.port;
    if (!b.rack.empty()) out.rack = b.rack;
  }
  co_return response;
}

}  // namespace runnel
