#pragma once
// IncrementalAlterConfigs' APPEND and SUBTRACT on a LIST config, as Kafka 4's
// controller applies them (ConfigurationControlManager), for topic and
// broker resources alike. Stateless; thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runnel {

// IncrementalAlterConfigs' config_operation values.
enum class AlterConfigOp : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };

// The new value of a LIST config after APPEND or SUBTRACT of `operand`. The
// list is the resource's own `current` value or, when it has none, Kafka's
// default; empty parts are dropped. APPEND adds each part of the operand not
// already in the list, in order; SUBTRACT removes the first occurrence of
// each part of the operand. Parts are comma separated and taken verbatim.
std::string apply_list_op(AlterConfigOp op, const std::optional<std::string>& current, std::string_view kafka_default,
                          std::string_view operand);

// Kafka's INVALID_CONFIG message for APPEND or SUBTRACT on a config that is
// not a LIST ("Can't APPEND to key retention.ms because its type is not LIST.").
std::string not_a_list_message(AlterConfigOp op, const std::string& key);

}  // namespace runnel
