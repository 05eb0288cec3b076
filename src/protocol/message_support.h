#pragma once
// Small helpers used by the generated message code (codegen.py): conversions
// between owned byte vectors and the views Reader/Writer work with, and the
// decoding of `records` fields. Stateless; thread-safe.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::protocol {

inline std::vector<uint8_t> to_vector(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

inline std::optional<std::vector<uint8_t>> to_vector(const std::optional<std::span<const uint8_t>>& b) {
  if (!b) return std::nullopt;
  return to_vector(*b);
}

inline std::optional<std::span<const uint8_t>> as_span(const std::optional<std::vector<uint8_t>>& b) {
  if (!b) return std::nullopt;
  return std::span<const uint8_t>(*b);
}

// A records field: classic int32 length or compact uvarint length+1, -1/0 for
// null. The result views the reader's buffer, so the request frame must outlive it.
Records read_records(Reader& r, bool compact);

}  // namespace runnel::protocol
