#pragma once
// The consumer protocol's embedded data, as classic consumer groups carry
// it in JoinGroup metadata and SyncGroup assignments
// (ConsumerProtocolSubscription / ConsumerProtocolAssignment): written at
// v0, read at any version (later versions append fields, which are
// skipped). Bytes from the network: decoding throws DecodeError on
// malformed input.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace runnel::protocol {

std::vector<uint8_t> encode_consumer_subscription(const std::vector<std::string>& topics);
std::vector<std::string> decode_consumer_subscription(std::span<const uint8_t> bytes);

// A ConsumerProtocolSubscription with what a group coordinator that hosts
// classic members in a consumer group needs of it: the topics, the owned
// partitions (v1+, empty before) and the rack (v3+).
struct ConsumerSubscription {
  int16_t version = 0;
  std::vector<std::string> topics;
  std::map<std::string, std::vector<int32_t>> owned;
  std::optional<std::string> rack_id;
};
ConsumerSubscription decode_consumer_subscription_full(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_consumer_assignment(const std::map<std::string, std::vector<int32_t>>& assignment);
// Empty input is an empty assignment (a member given nothing).
std::map<std::string, std::vector<int32_t>> decode_consumer_assignment(std::span<const uint8_t> bytes);

}  // namespace runnel::protocol
