#pragma once
// Sends records to a topic the way a Kafka producer does, for the command
// line and the REST proxy: a record's partition is the one given, else
// murmur2 of its key (the Java client's partitioner), else one partition
// chosen at random for all the keyless records of the call (sticky); one
// ProduceRequest per partition to its leader. Blocking; not thread-safe
// (one TopicLayout per caller).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/topic_layout.h"

namespace runnel::app {

struct OutgoingRecord {
  std::optional<int32_t> partition;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<std::pair<std::string, std::string>> headers;
};

struct SentRecord {
  int32_t partition = -1;
  int64_t offset = -1;  // -1 when failed, or with acks=0
  int16_t error = 0;    // Kafka's error code
  std::string message;  // the broker's error message, if any
};

// One result per record, in order. A partition outside the topic gets
// UNKNOWN_TOPIC_OR_PARTITION without being sent.
// `codec`: the batches' compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4
// zstd), at Kafka's default level.
std::vector<SentRecord> send_records(TopicLayout& layout, const std::string& topic,
                                     const std::vector<OutgoingRecord>& records, int16_t acks, int codec = 0);

}  // namespace runnel::app
