// Topic administration: CreateTopics (19), DeleteTopics (20), CreatePartitions (37).
// ACLs as Kafka's: creating needs CREATE on the cluster or the topic,
// deleting DELETE on the topic, adding partitions ALTER on the topic; a topic
// refused fails alone with TOPIC_AUTHORIZATION_FAILED. validate_only runs every
// check a creation makes (configs included) and creates nothing.
// controller_mutation_rate (a client quota, KIP-599) counts the partitions
// each creates or deletes; see MutationQuota.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "base/clock.h"
#include "config/topic_config.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"
#include "security/session.h"

namespace runnel {
namespace {

// CreateTopics with validate_only: every check a real creation makes (name,
// partitions, replication factor against the brokers, a manual assignment's
// brokers, the configs), nothing created, as Kafka's controller validates a
// topic before it would write its records.
ErrorCode validate_topic_creation_only(Broker& broker, const std::string& name, int32_t partitions, int16_t replication,
                                       const cluster::controller::Assignment& manual,
                                       const std::map<std::string, std::string>& overrides, std::string* message) {
  if (broker.topics().find(name)) {
    *message = "Topic '" + name + "' already exists.";
    return ErrorCode::TOPIC_ALREADY_EXISTS;
  }
  if (cluster::validate_topic_name(name) != ErrorCode::NONE) {
    *message = "Topic name \"" + name + "\" is illegal";
    return ErrorCode::INVALID_TOPIC_EXCEPTION;
  }
  if (partitions <= 0) {
    *message = "Number of partitions must be larger than 0.";
    return ErrorCode::INVALID_PARTITIONS;
  }
  std::set<int32_t> brokers;
  for (const auto& b : broker.cluster_brokers()) brokers.insert(b.node_id);
  if (static_cast<size_t>(replication) > brokers.size()) {
    *message = "Replication factor: " + std::to_string(replication) +
               " larger than available brokers: " + std::to_string(brokers.size()) + ".";
    return ErrorCode::INVALID_REPLICATION_FACTOR;
  }
  for (const auto& replicas : manual) {
    const std::set<int32_t> distinct(replicas.begin(), replicas.end());
    if (replicas.empty() || distinct.size() != replicas.size() ||
        std::any_of(replicas.begin(), replicas.end(), [&](int32_t id) { return !brokers.count(id); })) {
      *message = "The manual partition assignment includes an unknown or duplicated broker.";
      return ErrorCode::INVALID_REPLICA_ASSIGNMENT;
    }
  }
  try {
    (void)topic_log_config(broker.topics().defaults(), overrides);
  } catch (const ConfigError& e) {
    *message = e.what();
    return ErrorCode::INVALID_CONFIG;
  }
  return ErrorCode::NONE;
}

// One request's use of its client's controller_mutation_rate, as Kafka's
// ControllerMutationQuota: strict from the versions that know
// THROTTLING_QUOTA_EXCEEDED (a topic over the quota fails with it, nothing
// done), permissive before (the change is made; the client is throttled).
// Either way the response carries the throttle time and the connection waits
// it out.
class MutationQuota {
 public:
  MutationQuota(RequestContext& ctx, int16_t strict_from)
      : ctx_(ctx),
        strict_(ctx.api_version >= strict_from),
        active_(ctx.session && ctx.broker.client_quotas().enabled(ClientQuotaManager::Kind::kControllerMutation)) {}

  // Counts `partitions` for one topic; false when refused.
  bool take(int32_t partitions) {
    if (!active_ || partitions <= 0) return true;
    bool allowed = true;
    const int32_t throttle = ctx_.broker.client_quotas().record_mutations(
        ctx_.session->principal, ctx_.client_id.value_or(""), partitions, now(), strict_, &allowed);
    throttle_ms_ = std::max(throttle_ms_, throttle);
    return allowed;
  }
  // The change counted by take() failed: its partitions are given back.
  void refund(int32_t partitions) {
    if (!active_ || partitions <= 0) return;
    ctx_.broker.client_quotas().refund_mutations(ctx_.session->principal, ctx_.client_id.value_or(""), partitions,
                                                 now());
  }
  // The response's throttle time; the connection then waits it out.
  int32_t finish() {
    ctx_.throttle_ms = std::max(ctx_.throttle_ms, throttle_ms_);
    return throttle_ms_;
  }
  static constexpr const char* kMessage = "The throttling quota has been exceeded.";

 private:
  static int64_t now() { return monotonic_ns() / 1'000'000; }
  RequestContext& ctx_;
  const bool strict_;
  const bool active_;
  int32_t throttle_ms_ = 0;
};

}  // namespace

asio::awaitable<protocol::CreateTopicsResponse> handle_create_topics(RequestContext& ctx,
                                                                     protocol::CreateTopicsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::CreateTopicsResponse response;
  MutationQuota quota(ctx, 6);
  const bool cluster_create = authorized_cluster(ctx, security::AclOperation::Create);
  for (auto& topic : request.topics) {
    auto& result = response.topics.emplace_back();
    result.name = topic.name;
    if (!cluster_create && !authorized_topic(ctx, security::AclOperation::Create, topic.name)) {
      result.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      result.error_message = "Authorization failed.";
      continue;
    }
    int32_t partitions = topic.num_partitions == -1 ? broker.config().num_partitions : topic.num_partitions;
    int16_t replication =
        topic.replication_factor == -1 ? broker.config().default_replication_factor : topic.replication_factor;
    std::map<std::string, std::string> overrides;
    for (auto& c : topic.configs)
      if (c.value) overrides[c.name] = *c.value;
    std::string message;
    ErrorCode error = ErrorCode::NONE;
    // A manual assignment: one entry per partition, indexes 0..n-1, and then
    // num_partitions and replication_factor must be -1 (Kafka's rule).
    cluster::controller::Assignment manual(topic.assignments.size());
    for (const auto& a : topic.assignments) {
      if (a.partition_index < 0 || a.partition_index >= static_cast<int32_t>(manual.size()) ||
          !manual[a.partition_index].empty()) {
        error = ErrorCode::INVALID_REPLICA_ASSIGNMENT;
        message = "Partitions should be numbered 0 to n-1, each assigned once.";
        break;
      }
      manual[a.partition_index] = a.broker_ids;
    }
    if (!manual.empty() && error == ErrorCode::NONE) {
      if (topic.num_partitions != -1 || topic.replication_factor != -1) {
        error = ErrorCode::INVALID_REQUEST;
        message =
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at "
            "the same time.";
      } else {
        partitions = static_cast<int32_t>(manual.size());
        replication = static_cast<int16_t>(manual[0].size());
      }
    }
    if (error != ErrorCode::NONE) {
    } else if (replication <= 0) {
      error = ErrorCode::INVALID_REPLICATION_FACTOR;
      message = "Replication factor must be larger than 0.";
    } else if (request.validate_only) {
      error = validate_topic_creation_only(broker, topic.name, partitions, replication, manual, overrides, &message);
    } else if (!quota.take(partitions)) {
      error = ErrorCode::THROTTLING_QUOTA_EXCEEDED;
      message = MutationQuota::kMessage;
    } else {
      error = co_await broker.create_topic(topic.name, partitions, replication, manual.empty() ? nullptr : &manual,
                                           overrides, &message);
      if (error != ErrorCode::NONE) quota.refund(partitions);
    }
    result.error_code = code(error);
    if (!message.empty()) result.error_message = message;
    if (error == ErrorCode::NONE) {
      result.num_partitions = partitions;
      result.replication_factor = replication;
      if (auto info = broker.topics().find(topic.name)) result.topic_id = info->id;
    }
  }
  response.throttle_time_ms = quota.finish();
  co_return response;
}

asio::awaitable<protocol::DeleteTopicsResponse> handle_delete_topics(RequestContext& ctx,
                                                                     protocol::DeleteTopicsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DeleteTopicsResponse response;
  MutationQuota quota(ctx, 5);
  std::vector<std::string> names = request.topic_names;
  for (auto& t : request.topics) {
    if (t.name) {
      names.push_back(*t.name);
      continue;
    }
    for (const auto& info : broker.topics().all())
      if (info.id == t.topic_id) names.push_back(info.name);
  }
  for (const auto& name : names) {
    auto& result = response.responses.emplace_back();
    result.name = name;
    if (auto info = broker.topics().find(name)) result.topic_id = info->id;
    ErrorCode error;
    if (!authorized_topic(ctx, security::AclOperation::Delete, name))
      error = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
    else if (!broker.config().delete_topic_enable)
      error = ErrorCode::TOPIC_DELETION_DISABLED;
    else if (auto info = broker.topics().find(name); info && info->internal)
      error = ErrorCode::INVALID_REQUEST;
    else if (const int32_t partitions = info ? info->partitions : 0; !quota.take(partitions)) {
      error = ErrorCode::THROTTLING_QUOTA_EXCEEDED;
      result.error_message = MutationQuota::kMessage;
    } else {
      error = co_await broker.delete_topic(name);
      if (error != ErrorCode::NONE) quota.refund(partitions);
    }
    result.error_code = code(error);
  }
  response.throttle_time_ms = quota.finish();
  co_return response;
}

asio::awaitable<protocol::CreatePartitionsResponse> handle_create_partitions(
    RequestContext& ctx, protocol::CreatePartitionsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::CreatePartitionsResponse response;
  MutationQuota quota(ctx, 3);
  for (auto& topic : request.topics) {
    auto& result = response.results.emplace_back();
    result.name = topic.name;
    std::string message;
    ErrorCode error = ErrorCode::NONE;
    auto info = broker.topics().find(topic.name);
    if (!authorized_topic(ctx, security::AclOperation::Alter, topic.name)) {
      error = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
    } else if (!info) {
      error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    } else if (topic.count <= info->partitions) {
      error = ErrorCode::INVALID_PARTITIONS;
      message = "Topic currently has " + std::to_string(info->partitions) +
                " partitions, which is higher than the requested " + std::to_string(topic.count) + ".";
    } else if (request.validate_only) {
    } else if (const int32_t added = topic.count - info->partitions; !quota.take(added)) {
      error = ErrorCode::THROTTLING_QUOTA_EXCEEDED;
      message = MutationQuota::kMessage;
    } else {
      cluster::controller::Assignment manual;
      if (topic.assignments)
        for (const auto& a : *topic.assignments) manual.push_back(a.broker_ids);
      error = co_await broker.add_partitions(topic.name, topic.count, &message, manual.empty() ? nullptr : &manual);
      if (error != ErrorCode::NONE) quota.refund(added);
    }
    result.error_code = code(error);
    if (!message.empty()) result.error_message = message;
  }
  response.throttle_time_ms = quota.finish();
  co_return response;
}

}  // namespace runnel
