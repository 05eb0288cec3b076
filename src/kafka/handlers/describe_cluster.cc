// DescribeCluster (key 60): this node is the whole cluster and its controller.
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::DescribeClusterResponse> handle_describe_cluster(
    RequestContext& ctx, protocol::DescribeClusterRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeClusterResponse response;
  response.cluster_id = broker.cluster_id();
  response.controller_id = broker.config().node_id;
  auto& self = response.brokers.emplace_back();
  self.broker_id = broker.config().node_id;
  self.host = broker.advertised_host();
  self.port = broker.advertised_port();
  co_return response;
}

}  // namespace runnel
