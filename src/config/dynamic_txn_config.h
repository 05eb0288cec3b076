#pragma once
// transaction.partition.verification.enable (KIP-890 part 1) as a dynamic
// broker key, as in Kafka 4 (TransactionLogConfig reconfigures it): kept in
// the dynamic broker config document (config/dynamic_broker_config.h) with
// the same precedence, per-broker > cluster default > static > Kafka's
// default (true). A change applies to the next Produce and TxnOffsetCommit.
//
// Stateless functions over values; thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "config/dynamic_broker_config.h"

namespace runnel {

inline constexpr std::string_view kTxnVerificationKey = "transaction.partition.verification.enable";

bool is_dynamic_txn_key(std::string_view name);

// Throws ConfigError with Kafka's message unless `value` is true or false
// (any case).
void validate_txn_value(const std::string& key, const std::string& value);

// The value in force on broker `node_id`: `static_value` overlaid with the
// cluster default, then the broker's own value. A stored value that does not
// parse is skipped (validated when written).
bool effective_txn_verification(bool static_value, const DynamicBrokerConfigs& dynamic, int32_t node_id);

// Every level that has a value, most specific first (config_levels()).
std::vector<ConfigLevel> txn_verification_levels(bool static_value, const DynamicBrokerConfigs& dynamic,
                                                 int32_t node_id);

}  // namespace runnel
