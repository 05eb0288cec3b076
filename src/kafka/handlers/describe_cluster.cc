// DescribeCluster (key 60): the cluster id, its live brokers and the controller.
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeClusterResponse> handle_describe_cluster(RequestContext& ctx,
                                                                           protocol::DescribeClusterRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeClusterResponse response;
  response.cluster_id = broker.cluster_id();
  response.controller_id = broker.controller_id();
  for (const auto& b : broker.cluster_brokers()) {
    auto& out = response.brokers.emplace_back();
    out.broker_id = b.node_id;
    out.host = b.host;
    out.port = b.port;
    if (!b.rack.empty()) out.rack = b.rack;
  }
  co_return response;
}

}  // namespace runnel
