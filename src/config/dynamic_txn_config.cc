#include "config/dynamic_txn_config.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "config/config_error.h"

namespace runnel {
namespace {

// Kafka's ConfigDef BOOLEAN: true or false, any case.
std::optional<bool> parse_boolean(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  if (value == "true") return true;
  if (value == "false") return false;
  return std::nullopt;
}

const char* text(bool b) { return b ? "true" : "false"; }

}  // namespace

bool is_dynamic_txn_key(std::string_view name) { return name == kTxnVerificationKey; }

void validate_txn_value(const std::string& key, const std::string& value) {
  if (!parse_boolean(value))
    throw ConfigError("Invalid value " + value + " for configuration " + key +
                      ": Expected value to be either true or false");
}

bool effective_txn_verification(bool static_value, const DynamicBrokerConfigs& dynamic, int32_t node_id) {
  bool value = static_value;
  for (const ConfigMap* level : {&dynamic.cluster_default, &dynamic.of(node_id)})
    if (auto it = level->find(std::string(kTxnVerificationKey)); it != level->end())
      if (auto parsed = parse_boolean(it->second)) value = *parsed;
  return value;
}

std::vector<ConfigLevel> txn_verification_levels(bool static_value, const DynamicBrokerConfigs& dynamic,
                                                 int32_t node_id) {
  return config_levels(std::string(kTxnVerificationKey), dynamic, node_id, text(static_value), text(true));
}

}  // namespace runnel
