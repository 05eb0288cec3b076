#pragma once
// Where a topic's partitions are led, as the command-line producer and
// consumer need it: one Metadata request, and a connection per leader made
// on first use; and reading the batches of a Fetch response. Not thread-safe.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "app/admin_client.h"

namespace runnel::app {

class TopicLayout {
 public:
  // Throws AdminError with the broker's reason when the topic is unknown.
  TopicLayout(const std::string& bootstrap, const std::string& topic);

  int32_t partitions() const { return partitions_; }
  // The connection to the partition's leader; throws AdminError when it has none.
  AdminClient& leader(int32_t partition);
  // Reads the topic's metadata again (after NOT_LEADER_OR_FOLLOWER, as a
  // client does); connections to brokers that failed are reopened. Throws
  // AdminError.
  void refresh();
  // ListOffsets on the partition's leader: kEarliest, kLatest or a
  // timestamp (-1 when no record is that late). Throws AdminError.
  static constexpr int64_t kEarliest = -2, kLatest = -1;
  int64_t list_offset(int32_t partition, int64_t which);

  const std::string& topic() const { return topic_; }

 private:
  std::string bootstrap_;
  std::map<int32_t, std::string> leader_address_;                // partition -> host:port
  std::map<std::string, std::unique_ptr<AdminClient>> clients_;  // by address
  std::string topic_;
  int32_t partitions_ = 0;
};

// Calls fn(batch) for each whole record batch in a Fetch response's records
// (Kafka may end them with a partial batch, which is left out).
template <class F>
void for_each_batch(std::span<const uint8_t> records, F&& fn) {
  constexpr size_t kPrefix = 12;  // base offset + batch length
  size_t at = 0;
  while (at + kPrefix <= records.size()) {
    uint32_t length = uint32_t(records[at + 8]) << 24 | uint32_t(records[at + 9]) << 16 |
                      uint32_t(records[at + 10]) << 8 | uint32_t(records[at + 11]);
    if (length == 0 || length > records.size() - at - kPrefix) return;
    auto batch = records.subspan(at, kPrefix + length);
    at += batch.size();
    if (!fn(batch)) return;
  }
}

// Kafka's default partitioner for keyed records: murmur2 of the key, made
// positive, modulo the partition count (what the Java client, librdkafka's
// murmur2_random and kafkajs' default do, so the same key lands where they
// put it).
int32_t partition_for_key(const std::string& key, int32_t partitions);

}  // namespace runnel::app
