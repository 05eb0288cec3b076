// DescribeLogDirs (35): this broker's log directory and the size of each
// partition replica it holds there, leader or follower, as Kafka's
// ReplicaManager.describeLogDirs answers kafka-log-dirs.sh and the admin
// tools that show topic sizes (kafka-ui, AKHQ, Redpanda Console). runnel
// keeps every log under one directory (log.dirs). DESCRIBE on the cluster,
// else CLUSTER_AUTHORIZATION_FAILED (v3+: the top-level error; before, an
// empty answer, as Kafka).
#include <sys/statvfs.h>

#include <filesystem>
#include <map>
#include <set>

#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

// (topic, partition) -> size, of the replicas one shard holds among `wanted`.
using Sizes = std::map<std::pair<std::string, int32_t>, int64_t>;

Sizes replica_sizes(Broker& broker, int shard_id, const std::vector<std::pair<std::string, int32_t>>& wanted) {
  Sizes out;
  for (const auto& [topic, index] : wanted) {
    if (broker.owner(topic, index).id() != shard_id || broker.is_offline(topic, index)) continue;
    if (auto* replica = broker.replica(topic, index)) out[{topic, index}] = static_cast<int64_t>(replica->size_bytes());
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
  auto& dir = response.results.emplace_back();
  std::error_code ec;
  auto path = std::filesystem::absolute(broker.config().data_dir, ec);
  dir.log_dir = (ec ? std::filesystem::path(broker.config().data_dir) : path.lexically_normal()).string();
  if (dir.log_dir.size() > 1 && dir.log_dir.back() == '/') dir.log_dir.pop_back();
  // KIP-827: the volume's total and usable bytes (Java's FileStore
  // getTotalSpace / getUsableSpace: blocks, and blocks free to non-root).
  if (struct statvfs fs; ::statvfs(broker.config().data_dir.c_str(), &fs) == 0) {
    dir.total_bytes = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize);
    dir.usable_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  }
  // Sorted by topic, then partition (the map's order).
  for (const auto& [key, size] : sizes) {
    if (dir.topics.empty() || dir.topics.back().name != key.first) dir.topics.emplace_back().name = key.first;
    auto& p = dir.topics.back().partitions.emplace_back();
    p.partition_index = key.second;
    p.partition_size = size;
    p.offset_lag = 0;  // Kafka: max(high watermark - the replica's log end, 0), 0 for a current log
    p.is_future_key = false;
  }
  co_return response;
}

}  // namespace runnel
