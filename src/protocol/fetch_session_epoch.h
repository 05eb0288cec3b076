#pragma once
// Fetch session epochs (KIP-227), as both ends count them: 0 asks for a new
// session, -1 for none (closing one), and each incremental fetch carries the
// epoch after the last one, from 1 up to INT32_MAX and then 1 again (Kafka's
// FetchMetadata.nextEpoch).
//
// Thread-safety: a pure function.
#include <cstdint>
#include <limits>

namespace runnel::protocol {

constexpr int32_t kInitialFetchSessionEpoch = 0;
constexpr int32_t kFinalFetchSessionEpoch = -1;

constexpr int32_t next_fetch_session_epoch(int32_t epoch) {
  return epoch < 0 || epoch == std::numeric_limits<int32_t>::max() ? 1 : epoch + 1;
}

}  // namespace runnel::protocol
