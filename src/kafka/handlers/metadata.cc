// Metadata (key 3): the brokers (this one, or the cluster's live brokers), and
// topics with their partitions, leader (this node) and replicas. Requesting an unknown topic auto-creates it
// as Kafka does: always in v0-v3, and in v4+ when allow_auto_topic_creation.
// ACLs as Kafka's: the full listing holds only the topics the principal may
// DESCRIBE; a named topic it may not describe gets TOPIC_AUTHORIZATION_FAILED,
// and so does one that would be auto-created without CREATE on the cluster
// or the topic. v8+ fills topic_authorized_operations (each topic the
// principal may describe) when include_topic_authorized_operations is set,
// and v8-10 cluster_authorized_operations (0 without DESCRIBE on the cluster)
// when include_cluster_authorized_operations is; else Kafka's "not
// requested" value stays.
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

protocol::MetadataResponse::MetadataResponseTopic describe_topic(Broker& broker, const cluster::TopicInfo& t) {
  protocol::MetadataResponse::MetadataResponseTopic topic;
  topic.name = t.name;
  topic.topic_id = t.id;
  topic.is_internal = t.internal;
  auto leadership = broker.leadership(t);
  for (int32_t p = 0; p < t.partitions; ++p) {
    protocol::MetadataResponse::MetadataResponsePartition part;
    part.partition_index = p;
    part.leader_id = leadership[p].leader;
    part.leader_epoch = leadership[p].leader_epoch;
    part.replica_nodes = leadership[p].replicas;
    part.isr_nodes = leadership[p].isr;
    part.offline_replicas = leadership[p].offline;
    if (part.leader_id < 0) part.error_code = code(ErrorCode::LEADER_NOT_AVAILABLE);
    topic.partitions.push_back(std::move(part));
  }
  return topic;
}

// The authorized-operations fields the request asked for, as Kafka's
// handleTopicMetadataRequest sets them.
void set_authorized_operations(const RequestContext& ctx, const protocol::MetadataRequest& request,
                               protocol::MetadataResponse& response) {
  if (ctx.api_version < 8) return;
  if (ctx.api_version <= 10 && request.include_cluster_authorized_operations)
    response.cluster_authorized_operations = cluster_authorized_operations(ctx);
  if (!request.include_topic_authorized_operations) return;
  for (auto& topic : response.topics) {
    // Not for a topic it may not describe, nor for an unknown topic id.
    if (!topic.name || topic.name->empty() || topic.error_code == code(ErrorCode::TOPIC_AUTHORIZATION_FAILED) ||
        topic.error_code == code(ErrorCode::UNKNOWN_TOPIC_ID))
      continue;
    topic.topic_authorized_operations = authorized_operations(ctx, security::ResourceType::Topic, *topic.name);
  }
}

}  // namespace

asio::awaitable<protocol::MetadataResponse> handle_metadata(RequestContext& ctx, protocol::MetadataRequest& request) {
  Broker& broker = ctx.broker;
  const int16_t version = ctx.api_version;
  protocol::MetadataResponse response;
  for (const auto& b : broker.cluster_brokers(ctx.listener)) {
    auto& out = response.brokers.emplace_back();
    out.node_id = b.node_id;
    out.host = b.host;
    out.port = b.port;
    if (!b.rack.empty()) out.rack = b.rack;
  }
  response.cluster_id = broker.cluster_id();
  response.controller_id = broker.controller_id();

  // v0: an empty list means every topic; v1+: null means every topic.
  bool all_topics = !request.topics.has_value() || (version == 0 && request.topics->empty());
  if (all_topics) {
    for (const auto& t : broker.topics().all())
      if (authorized_topic(ctx, security::AclOperation::Describe, t.name))
        response.topics.push_back(describe_topic(broker, t));
    set_authorized_operations(ctx, request, response);
    co_return response;
  }
  bool allow_auto_create = version < 4 || request.allow_auto_topic_creation;
  for (const auto& requested : *request.topics) {
    if (!requested.name) {
      // v10+ lookup by topic id only.
      protocol::MetadataResponse::MetadataResponseTopic topic;
      topic.error_code = code(ErrorCode::UNKNOWN_TOPIC_ID);
      topic.topic_id = requested.topic_id;
      for (const auto& t : broker.topics().all()) {
        if (t.id != requested.topic_id) continue;
        if (authorized_topic(ctx, security::AclOperation::Describe, t.name))
          topic = describe_topic(broker, t);
        else
          topic.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      }
      response.topics.push_back(std::move(topic));
      continue;
    }
    const std::string& name = *requested.name;
    bool may_create = allow_auto_create;
    bool denied = !authorized_topic(ctx, security::AclOperation::Describe, name);
    if (!denied && allow_auto_create && broker.config().auto_create_topics && !broker.topics().find(name) &&
        cluster::validate_topic_name(name) == ErrorCode::NONE) {
      may_create = authorized_cluster(ctx, security::AclOperation::Create) ||
                   authorized_topic(ctx, security::AclOperation::Create, name);
      denied = !may_create;
    }
    if (denied) {
      protocol::MetadataResponse::MetadataResponseTopic topic;
      topic.name = name;
      topic.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      response.topics.push_back(std::move(topic));
      continue;
    }
    auto info = co_await broker.find_or_auto_create(name, may_create);
    if (info) {
      response.topics.push_back(describe_topic(broker, *info));
      continue;
    }
    protocol::MetadataResponse::MetadataResponseTopic topic;
    topic.name = name;
    topic.error_code =
        code(cluster::validate_topic_name(name) != ErrorCode::NONE ? ErrorCode::INVALID_TOPIC_EXCEPTION
                                                                   : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    response.topics.push_back(std::move(topic));
  }
  set_authorized_operations(ctx, request, response);
  co_return response;
}

}  // namespace runnel
