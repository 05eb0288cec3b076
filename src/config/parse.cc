#include "config/parse.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace runnel::config {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

int64_t parse_int(const std::string& key, const std::string& value, int64_t min, int64_t max) {
  int64_t v = 0;
  auto s = trim(value);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw ConfigError(fmt::format("invalid value '{}' for {}: expected an integer", value, key));
  if (v < min || v > max)
    throw ConfigError(fmt::format("invalid value {} for {}: must be in [{}, {}]", v, key, min, max));
  return v;
}

bool parse_bool(const std::string& key, const std::string& value) {
  auto s = trim(value);
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "true") return true;
  if (s == "false") return false;
  throw ConfigError(fmt::format("invalid value '{}' for {}: expected true or false", value, key));
}

storage::TimestampType parse_timestamp_type(const std::string& key, const std::string& value) {
  auto s = trim(value);
  if (s == "CreateTime") return storage::TimestampType::CreateTime;
  if (s == "LogAppendTime") return storage::TimestampType::LogAppendTime;
  throw ConfigError(fmt::format("invalid value '{}' for {}: expected CreateTime or LogAppendTime", value, key));
}

bool parse_cleanup_policy(const std::string& key, const std::string& value) {
  auto s = trim(value);
  if (s == "delete") return false;
  if (s == "compact" || s == "compact,delete" || s == "delete,compact")
    throw ConfigError(fmt::format("invalid value '{}' for {}: compaction is not supported yet", value, key));
  throw ConfigError(fmt::format("invalid value '{}' for {}: expected delete or compact", value, key));
}

void parse_compression_type(const std::string& key, const std::string& value) {
  // The broker stores batches exactly as the producer compressed them; re-compressing
  // to another codec is not implemented, so only "producer" is accepted.
  if (trim(value) != "producer")
    throw ConfigError(fmt::format("invalid value '{}' for {}: only 'producer' is supported", value, key));
}

}  // namespace runnel::config
