#pragma once
// Parsers for configuration values, shared by the broker's keys (app/config)
// and the topics' (config/topic_config). Each throws ConfigError naming the
// key when the value is malformed or out of range.
#include <cstdint>
#include <string>
#include <utility>

#include "config/config_error.h"
#include "storage/log_config.h"

namespace runnel::config {

std::string trim(std::string s);
int64_t parse_int(const std::string& key, const std::string& value, int64_t min, int64_t max);
bool parse_bool(const std::string& key, const std::string& value);
storage::TimestampType parse_timestamp_type(const std::string& key, const std::string& value);
// cleanup.policy: a comma-separated list of delete and compact (Kafka's
// ValidList); sets LogConfig::cleanup_delete and LogConfig::compact.
void parse_cleanup_policy(const std::string& key, const std::string& value, storage::LogConfig& config);
// compression.type: uncompressed, zstd, lz4, snappy, gzip or producer, as
// LogConfig::compression (-1 for producer).
int8_t parse_compression_type(const std::string& key, const std::string& value);
double parse_double(const std::string& key, const std::string& value, double min, double max);

}  // namespace runnel::config
