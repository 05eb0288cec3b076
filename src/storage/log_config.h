#pragma once
// Per-topic log settings, with Kafka's topic-level names in comments.
// Plain value type; thread-safe to copy.
#include <cstdint>
#include <limits>

namespace runnel::storage {

enum class TimestampType : int8_t { CreateTime = 0, LogAppendTime = 1 };

struct LogConfig {
  int64_t segment_bytes = 1024 * 1024 * 1024;           // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;          // segment.ms
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;        // retention.ms (-1: forever)
  int64_t retention_bytes = -1;                         // retention.bytes (-1: unlimited)
  int32_t max_message_bytes = 1048588;                  // max.message.bytes
  int32_t index_interval_bytes = 4096;                  // index.interval.bytes
  TimestampType timestamp_type = TimestampType::CreateTime;  // message.timestamp.type
  bool compact = false;                                 // cleanup.policy=compact
};

}  // namespace runnel::storage
