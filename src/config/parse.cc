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

void parse_cleanup_policy(const std::string& key, const std::string& value, storage::LogConfig& config) {
  bool compact = false, del = false;
  size_t from = 0;
  while (from <= value.size()) {
    size_t comma = value.find(',', from);
    if (comma == std::string::npos) comma = value.size();
    auto item = trim(value.substr(from, comma - from));
    if (item == "compact")
      compact = true;
    else if (item == "delete")
      del = true;
    else
      throw ConfigError(
          fmt::format("Invalid value {} for configuration {}: String must be one of: compact, delete", item, key));
    from = comma + 1;
  }
  config.compact = compact;
  config.cleanup_delete = del;
}

int8_t parse_compression_type(const std::string& key, const std::string& value) {
  static const std::pair<const char*, int8_t> kNames[] = {{"uncompressed", 0}, {"zstd", 4}, {"lz4", 3},
                                                          {"snappy", 2},       {"gzip", 1}, {"producer", -1}};
  auto s = trim(value);
  for (const auto& [name, codec] : kNames)
    if (s == name) return codec;
  throw ConfigError(fmt::format(
      "Invalid value {} for configuration {}: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer",
      value, key));
}

double parse_double(const std::string& key, const std::string& value, double min, double max) {
  auto s = trim(value);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw ConfigError(fmt::format("invalid value '{}' for {}: expected a number", value, key));
  if (!(v >= min && v <= max))
    throw ConfigError(fmt::format("invalid value {} for {}: must be in [{}, {}]", s, key, min, max));
  return v;
}

}  // namespace runnel::config
