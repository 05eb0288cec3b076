#include "protocol/consumer_protocol.h"

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::protocol {

std::vector<uint8_t> encode_consumer_subscription(const std::vector<std::string>& topics) {
  Writer w;
  w.i16(0);
  w.i32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) w.string(t);
  w.i32(-1);  // user_data: null
  return std::move(w).finish().buffer;
}

std::vector<std::string> decode_consumer_subscription(std::span<const uint8_t> bytes) {
  Reader r{bytes};
  if (r.i16() < 0) throw DecodeError("negative subscription version");
  std::vector<std::string> topics;
  int32_t n = r.array_length();
  for (int32_t i = 0; i < n; ++i) topics.push_back(r.string());
  return topics;  // user_data and later versions' fields: not needed
}

ConsumerSubscription decode_consumer_subscription_full(std::span<const uint8_t> bytes) {
  Reader r{bytes};
  ConsumerSubscription s;
  s.version = r.i16();
  if (s.version < 0) throw DecodeError("negative subscription version");
  int32_t n = r.array_length();
  for (int32_t i = 0; i < n; ++i) s.topics.push_back(r.string());
  (void)r.nullable_bytes();  // user_data
  if (s.version >= 1) {
    int32_t topics = r.array_length();
    for (int32_t t = 0; t < topics; ++t) {
      std::string topic = r.string();
      int32_t m = r.array_length();
      auto& parts = s.owned[topic];
      for (int32_t i = 0; i < m; ++i) parts.push_back(r.i32());
    }
  }
  if (s.version >= 2) (void)r.i32();  // generation id
  if (s.version >= 3) s.rack_id = r.nullable_string();
  return s;
}

std::vector<uint8_t> encode_consumer_assignment(const std::map<std::string, std::vector<int32_t>>& assignment) {
  Writer w;
  w.i16(0);
  w.i32(static_cast<int32_t>(assignment.size()));
  for (const auto& [topic, partitions] : assignment) {
    w.string(topic);
    w.i32(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) w.i32(p);
  }
  w.i32(-1);  // user_data: null
  return std::move(w).finish().buffer;
}

std::map<std::string, std::vector<int32_t>> decode_consumer_assignment(std::span<const uint8_t> bytes) {
  std::map<std::string, std::vector<int32_t>> out;
  if (bytes.empty()) return out;
  Reader r{bytes};
  if (r.i16() < 0) throw DecodeError("negative assignment version");
  int32_t topics = r.array_length();
  for (int32_t t = 0; t < topics; ++t) {
    std::string topic = r.string();
    int32_t n = r.array_length();
    auto& parts = out[topic];
    for (int32_t i = 0; i < n; ++i) parts.push_back(r.i32());
  }
  return out;
}

}  // namespace runnel::protocol
