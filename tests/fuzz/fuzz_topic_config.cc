// Topic configs arrive from the network (CreateTopics, AlterConfigs,
// IncrementalAlterConfigs) and from disk (topics.json): whatever the names
// and values, topic_log_config() returns a config or throws ConfigError, never
// crashes or hangs, and what it accepts is described back (DescribeConfigs)
// without failing. Input: lines of name=value.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "config/topic_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> overrides;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    overrides[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  try {
    auto config = runnel::topic_log_config(runnel::storage::LogConfig{}, overrides);
    (void)runnel::topic_config_defaults(config);
  } catch (const runnel::ConfigError&) {
  }
  return 0;
}
