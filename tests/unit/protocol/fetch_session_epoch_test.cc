// The session epochs both ends of a fetch session count (KIP-227).
#include "protocol/fetch_session_epoch.h"

#include <gtest/gtest.h>

#include <limits>

namespace runnel::protocol {
namespace {

TEST(FetchSessionEpoch, CountsFromOneAndWrapsPastTheLargestBackToOne) {
  EXPECT_EQ(next_fetch_session_epoch(kInitialFetchSessionEpoch), 1);
  EXPECT_EQ(next_fetch_session_epoch(1), 2);
  EXPECT_EQ(next_fetch_session_epoch(std::numeric_limits<int32_t>::max() - 1), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(next_fetch_session_epoch(std::numeric_limits<int32_t>::max()), 1);
}

}  // namespace
}  // namespace runnel::protocol
