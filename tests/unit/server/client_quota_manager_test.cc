// The byte-rate client quotas' enforcement (kafka/client_quota_manager.h):
// who shares a rate, the throttle time, taking back a throttled fetch, and
// the largest fetch within one quota window.
#include "kafka/client_quota_manager.h"

#include <gtest/gtest.h>

namespace runnel {
namespace {

using Kind = ClientQuotaManager::Kind;

ClientQuotaEntity entity(std::initializer_list<std::pair<const std::string, std::optional<std::string>>> parts) {
  return ClientQuotaEntity{parts};
}

TEST(ClientQuotaManager, DisabledWithoutQuotasOfThatKind) {
  ClientQuotaManager m;
  EXPECT_FALSE(m.enabled(Kind::kProduce));
  EXPECT_EQ(m.record(Kind::kProduce, "User:u", "c", 1e12, 0), 0);
  ClientQuotas q;
  q[entity({{"client-id", "c"}})]["consumer_byte_rate"] = 100;
  m.configure(q);
  EXPECT_FALSE(m.enabled(Kind::kProduce));
  EXPECT_TRUE(m.enabled(Kind::kFetch));
  EXPECT_EQ(m.record(Kind::kProduce, "User:u", "c", 1e12, 0), 0);
  EXPECT_EQ(m.max_in_window(Kind::kFetch, "User:u", "c"), 1000);
  EXPECT_FALSE(m.max_in_window(Kind::kFetch, "User:u", "other").has_value());
}

TEST(ClientQuotaManager, UserQuotaSharedByItsClientsDefaultQuotaPerClient) {
  ClientQuotaManager m;
  ClientQuotas q;
  q[entity({{"user", "alice"}})]["producer_byte_rate"] = 1000;  // all of alice's clients together
  q[entity({{"client-id", std::optional<std::string>()}})]["producer_byte_rate"] = 1000;  // each client-id on its own
  m.configure(q);
  EXPECT_EQ(m.record(Kind::kProduce, "User:alice", "a", 10'000, 0), 0);
  EXPECT_GT(m.record(Kind::kProduce, "User:alice", "b", 10'000, 0), 0);  // same rate as "a"
  EXPECT_EQ(m.record(Kind::kProduce, "User:bob", "a", 10'000, 0), 0);
  EXPECT_EQ(m.record(Kind::kProduce, "User:bob", "b", 10'000, 0), 0);  // its own rate
  EXPECT_EQ(m.throttled(Kind::kProduce), 1u);
  EXPECT_EQ(m.throttle_ms(Kind::kProduce), 10'000u);
}

TEST(ClientQuotaManager, UnrecordTakesBackAThrottledFetch) {
  ClientQuotaManager m;
  ClientQuotas q;
  q[entity({{"client-id", "c"}})]["consumer_byte_rate"] = 1000;
  m.configure(q);
  EXPECT_EQ(m.record(Kind::kFetch, "User:ANONYMOUS", "c", 10'000, 0), 0);
  const int32_t throttle = m.record(Kind::kFetch, "User:ANONYMOUS", "c", 5'000, 0);
  EXPECT_EQ(throttle, 5'000);
  m.unrecord(Kind::kFetch, "User:ANONYMOUS", "c", 5'000, 0);
  // Eleven seconds on, the windows that held the first 10,000 bytes are gone.
  EXPECT_EQ(m.record(Kind::kFetch, "User:ANONYMOUS", "c", 10'000, 11'500), 0);
  // A changed quota applies to the rate measured so far.
  q[entity({{"client-id", "c"}})]["consumer_byte_rate"] = 100;
  m.configure(q);
  EXPECT_GT(m.record(Kind::kFetch, "User:ANONYMOUS", "c", 1, 11'500), 0);
}

// controller_mutation_rate (KIP-599): a token bucket of eleven seconds'
// worth; strict requests are refused while it is below zero, permissive ones
// go through; the throttle is the time until it is back at zero.
TEST(ClientQuotaManager, ControllerMutationTokenBucket) {
  ClientQuotaManager m;
  ClientQuotas q;
  q[entity({{"user", "u"}})]["controller_mutation_rate"] = 2;  // a bucket of 22
  m.configure(q);
  bool allowed = false;
  EXPECT_EQ(m.record_mutations("User:u", "c", 20, 0, true, &allowed), 0);
  EXPECT_TRUE(allowed);
  EXPECT_EQ(m.record_mutations("User:u", "c", 10, 0, true, &allowed), 4000);  // -8 at 2 per second
  EXPECT_TRUE(allowed);
  EXPECT_EQ(m.record_mutations("User:u", "c", 1, 1000, true, &allowed), 3000);  // refilled to -6
  EXPECT_FALSE(allowed);
  EXPECT_EQ(m.record_mutations("User:u", "c", 1, 1000, false, &allowed), 3500);  // permissive: taken
  EXPECT_TRUE(allowed);
  m.refund_mutations("User:u", "c", 1, 1000);
  EXPECT_EQ(m.record_mutations("User:u", "c", 0, 4000, true, &allowed), 0);  // back at zero
  EXPECT_TRUE(allowed);
  // Refilled up to the burst, no further.
  QuotaTokenBucket bucket;
  EXPECT_EQ(bucket.tokens(0, 2), 22);
  bucket.take(0, 22, 2);
  EXPECT_EQ(bucket.tokens(5000, 2), 10);
  EXPECT_EQ(bucket.tokens(60'000, 2), 22);
}

}  // namespace
}  // namespace runnel
