// AlterReplicaLogDirs (34): moves replicas between this broker's log
// directories, as kafka-reassign-partitions.sh does for a plan's log_dirs
// and AdminClient.alterReplicaLogDirs. Answered as Kafka's ReplicaManager
// answers it: per partition NONE once the move has started (or when the
// replica is in that directory already), LOG_DIR_NOT_FOUND for a path that
// is not one of log.dirs (absolute), KAFKA_STORAGE_ERROR when it or any
// directory is offline, REPLICA_NOT_AVAILABLE when the broker holds no
// replica of the partition. The move itself runs in the background
// (PartitionManager::move_replica); DescribeLogDirs lists the copy as the
// future replica meanwhile. The internal topics' replicas move too (a disk
// is emptied of everything): their coordinators look a partition up at
// each use, so they find the reopened one after the swap (in a cluster they
// let go of it and load it again, as at any change of leader). ALTER on
// the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
#include <filesystem>
#include <map>

#include "base/paths.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::AlterReplicaLogDirsResponse> handle_alter_replica_log_dirs(
    RequestContext& ctx, protocol::AlterReplicaLogDirsRequest& request) {
  Broker& broker = ctx.broker;
  const bool authorized = authorized_cluster(ctx, security::AclOperation::Alter);
  // One result per topic, in the order first asked.
  protocol::AlterReplicaLogDirsResponse response;
  std::map<std::string, size_t> result_of;
  auto answer = [&](const std::string& topic, int32_t partition, ErrorCode error) {
    auto [it, fresh] = result_of.emplace(topic, response.results.size());
    if (fresh) response.results.emplace_back().topic_name = topic;
    auto& r = response.results[it->second].partitions.emplace_back();
    r.partition_index = partition;
    r.error_code = code(error);
  };
  const auto& log_dirs = broker.partition_manager().log_dirs();
  for (const auto& dir : request.dirs) {
    // Kafka compares absolute paths: a relative one is no log directory.
    std::optional<size_t> index;
    if (std::filesystem::path(dir.path).is_absolute()) index = log_dirs.index_of(normal_directory(dir.path));
    for (const auto& t : dir.topics) {
      auto info = broker.topics().find(t.name);
      for (int32_t p : t.partitions) {
        ErrorCode error = ErrorCode::NONE;
        if (!authorized)
          error = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
        else if (!index)
          error = ErrorCode::LOG_DIR_NOT_FOUND;
        else if (!log_dirs.dirs()[*index].online)
          error = ErrorCode::KAFKA_STORAGE_ERROR;
        else if (!info || p < 0 || p >= info->partitions)
          error = ErrorCode::REPLICA_NOT_AVAILABLE;
        else
          error = co_await on_shard(broker.owner(t.name, p), [&broker, &t, p, &index]() {
            return broker.partition_manager().move_replica(t.name, p, *index);
          });
        answer(t.name, p, error);
      }
    }
  }
  co_return response;
}

}  // namespace runnel
