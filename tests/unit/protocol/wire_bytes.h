// Helpers the protocol golden-byte tests share: encode a message at a version,
// decode one (asserting every byte was read), and build byte strings from pieces.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "protocol/messages.h"

namespace runnel::protocol::wire_bytes {

using Bytes = std::vector<uint8_t>;

template <class T>
Bytes encode(const T& msg, int16_t version) {
  Writer w;
  msg.write(w, version);
  return std::move(w).finish().buffer;
}

template <class T>
T decode(const Bytes& bytes, int16_t version) {
  T msg;
  Reader r(bytes);
  msg.read(r, version);
  EXPECT_EQ(r.remaining(), 0u);
  return msg;
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A topic id with distinct bytes, and those bytes as they go on the wire.
inline const Uuid kTopicId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
inline const Bytes kTopicIdBytes(kTopicId.begin(), kTopicId.end());

}  // namespace runnel::protocol::wire_bytes
