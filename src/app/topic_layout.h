#pragma once
// Where a topic's partitions are led, as the command-line producer and
// consumer need it: one Metadata request, and a connection per leader made
// on first use. Not thread-safe.
#include <cstdint>
#include <map>
#include <memory>
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

 private:
  std::map<int32_t, std::string> leader_address_;                // partition -> host:port
  std::map<std::string, std::unique_ptr<AdminClient>> clients_;  // by address
  int32_t partitions_ = 0;
};

// Kafka's default partitioner for keyed records: murmur2 of the key, made
// positive, modulo the partition count (what the Java client, librdkafka's
// murmur2_random and kafkajs' default do, so the same key lands where they
// put it).
int32_t partition_for_key(const std::string& key, int32_t partitions);

}  // namespace runnel::app
