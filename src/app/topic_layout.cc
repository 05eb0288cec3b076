#include "app/topic_layout.h"

#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {

TopicLayout::TopicLayout(const std::string& bootstrap, const std::string& topic)
    : bootstrap_(bootstrap), topic_(topic) {
  refresh();
}

void TopicLayout::refresh() {
  AdminClient client(bootstrap_);
  const std::string& topic = topic_;
  auto resp = client.metadata(std::vector<std::string>{topic});
  if (resp.topics.size() != 1 || resp.topics[0].error_code != 0)
    throw AdminError(
        "topic '" + topic + "': " +
        std::string(error_name(static_cast<ErrorCode>(
            resp.topics.empty() ? int16_t(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) : resp.topics[0].error_code))));
  const auto brokers = broker_addresses(resp);
  partitions_ = static_cast<int32_t>(resp.topics[0].partitions.size());
  leader_address_.clear();
  clients_.clear();
  for (const auto& p : resp.topics[0].partitions)
    if (auto it = brokers.find(p.leader_id); it != brokers.end()) leader_address_[p.partition_index] = it->second;
}

AdminClient& TopicLayout::leader(int32_t partition) {
  auto it = leader_address_.find(partition);
  if (it == leader_address_.end()) throw AdminError("partition " + std::to_string(partition) + " has no leader");
  auto& client = clients_[it->second];
  if (!client) client = std::make_unique<AdminClient>(it->second);
  return *client;
}

int64_t TopicLayout::list_offset(int32_t partition, int64_t which) {
  protocol::ListOffsetsRequest req;
  req.replica_id = -1;
  protocol::ListOffsetsRequest::ListOffsetsTopic t;
  t.name = topic_;
  protocol::ListOffsetsRequest::ListOffsetsPartition p;
  p.partition_index = partition;
  p.timestamp = which;
  t.partitions.push_back(p);
  req.topics.push_back(t);
  auto resp = leader(partition).call<protocol::ListOffsetsResponse>(req, 5);
  for (const auto& rt : resp.topics)
    for (const auto& rp : rt.partitions) {
      if (rp.error_code != 0)
        throw AdminError("ListOffsets " + topic_ + "-" + std::to_string(partition) + ": " +
                         std::string(error_name(static_cast<ErrorCode>(rp.error_code))));
      return rp.offset;
    }
  throw AdminError("ListOffsets: no answer for " + topic_ + "-" + std::to_string(partition));
}

int32_t partition_for_key(const std::string& key, int32_t partitions) {
  // Kafka's Utils.murmur2 (seed 0x9747b28c), then toPositive (& 0x7fffffff).
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const size_t length = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    uint32_t k =
        uint32_t(data[i]) | uint32_t(data[i + 1]) << 8 | uint32_t(data[i + 2]) << 16 | uint32_t(data[i + 3]) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length - i) {
    case 3:
      h ^= uint32_t(data[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t(data[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t(data[i]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

}  // namespace runnel::app
