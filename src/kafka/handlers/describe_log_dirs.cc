// DescribeLogDirs (35): this broker's log directories (log.dirs) and the size
// of each partition replica it holds in each, leader or follower, as Kafka's
// ReplicaManager.describeLogDirs answers kafka-log-dirs.sh and the admin
// tools that show topic sizes (kafka-ui, AKHQ, Redpanda Console). An offline
// directory is listed with KAFKA_STORAGE_ERROR and nothing in it, as Kafka
// lists one; a replica being moved between directories is listed in its
// destination too, as the future replica. DESCRIBE on the cluster,
// else CLUSTER_AUTHORIZATION_FAILED (v3+: the top-level error; before, an
// empty answer, as Kafka).
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

struct ReplicaExtent {
  int64_t size = 0;
  int64_t log_start = 0;
  int64_t log_end = 0;
};
// (topic, partition) -> size and offsets, of the replicas one shard holds
// among `wanted`.
using Sizes = std::map<std::pair<std::string, int32_t>, ReplicaExtent>;

Sizes replica_sizes(Broker& broker, int shard_id, const std::vector<std::pair<std::string, int32_t>>& wanted) {
  Sizes out;
  for (const auto& [topic, index] : wanted) {
    if (broker.owner(topic, index).id() != shard_id || broker.is_offline(topic, index)) continue;
    if (auto* replica = broker.replica(topic, index))
      out[{topic, index}] = {static_cast<int64_t>(replica->size_bytes()), replica->log_start_offset().value(),
                             replica->log_end_offset().value()};
  }
  return out;
}

}  // namespace

asio::awaitable<protocol::DescribeLogDirsResponse> handle_describe_log_dirs(RequestContext& ctx,
                                                                            protocol::DescribeLogDirsRequest& request) {
  Broker& broker = ctx.broker;
  protocol::DescribeLogDirsResponse response;
  if (!authorized_cluster(ctx, security::AclOperation::Describe)) {
    response.error_code = code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    co_return response;
  }
  // The partitions asked about that exist (null: every partition of every
  // topic); each shard reports those it holds.
  std::vector<std::pair<std::string, int32_t>> wanted;
  if (!request.topics) {
    for (const auto& t : broker.topics().all())
      for (int32_t p = 0; p < t.partitions; ++p) wanted.emplace_back(t.name, p);
  } else {
    std::set<std::pair<std::string, int32_t>> seen;
    for (const auto& t : *request.topics) {
      auto info = broker.topics().find(t.topic);
      if (!info) continue;
      for (int32_t p : t.partitions)
        if (p >= 0 && p < info->partitions && seen.emplace(t.topic, p).second) wanted.emplace_back(t.topic, p);
    }
  }
  Sizes sizes;
  for (int s = 0; s < broker.shards().size(); ++s) {
    auto collect = [&broker, s, &wanted]() { return replica_sizes(broker, s, wanted); };
    sizes.merge(co_await on_shard(broker.shards().at(s), collect));
  }
  // One result per log directory, in log.dirs' order.
  const auto& log_dirs = broker.partition_manager().log_dirs();
  for (const auto& d : log_dirs.dirs()) {
    auto& dir = response.results.emplace_back();
    dir.log_dir = d.path.string();
    if (!d.online) {
      dir.error_code = code(ErrorCode::KAFKA_STORAGE_ERROR);
      continue;
    }
    // KIP-827: the volume's total and usable bytes (Java's FileStore
    // getTotalSpace / getUsableSpace: blocks, and blocks free to non-root).
    if (struct statvfs fs; ::statvfs(d.path.c_str(), &fs) == 0) {
      dir.total_bytes = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize);
      dir.usable_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
    }
  }
  // Sorted by topic, then partition (the map's order).
  for (const auto& [key, extent] : sizes) {
    auto where = log_dirs.find(key.first + "-" + std::to_string(key.second));
    auto index = where ? log_dirs.index_of(where->parent_path()) : std::nullopt;
    if (!index) continue;
    auto& dir = response.results[*index];
    if (dir.topics.empty() || dir.topics.back().name != key.first) dir.topics.emplace_back().name = key.first;
    auto& p = dir.topics.back().partitions.emplace_back();
    p.partition_index = key.second;
    p.partition_size = extent.size;
    p.offset_lag = 0;  // Kafka: max(high watermark - the replica's log end, 0), 0 for a current log
    p.is_future_key = false;
  }
  // A replica moving to another directory (AlterReplicaLogDirs) is also
  // listed there as the future replica, its size what is copied so far and
  // its lag, as Kafka's, the current log's end minus the future's: runnel
  // copies files in passes, and the copy's end is the log end when the last
  // completed pass began (before the first, the log start).
  std::set<std::pair<std::string, int32_t>> asked(wanted.begin(), wanted.end());
  for (const auto& move : broker.partition_manager().replica_moves()) {
    auto index = log_dirs.index_of(move.to);
    if (!index || !asked.count({move.topic, move.partition})) continue;
    auto& topics = response.results[*index].topics;
    auto t = std::find_if(topics.begin(), topics.end(), [&](const auto& x) { return x.name == move.topic; });
    if (t == topics.end()) (t = topics.emplace(topics.end()))->name = move.topic;
    auto& p = t->partitions.emplace_back();
    p.partition_index = move.partition;
    p.partition_size = static_cast<int64_t>(move.bytes_copied);
    p.offset_lag = 0;
    if (auto current = sizes.find({move.topic, move.partition}); current != sizes.end())
      p.offset_lag = std::max<int64_t>(
          current->second.log_end - std::max(move.copied_to_offset, current->second.log_start), 0);
    p.is_future_key = true;
  }
  co_return response;
}

}  // namespace runnel
