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
// False for delete; compact is refused (compaction is not supported yet).
bool parse_cleanup_policy(const std::string& key, const std::string& value);
// Accepts only "producer".
void parse_compression_type(const std::string& key, const std::string& value);

}  // namespace runnel::config
