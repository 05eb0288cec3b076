// RequestMemoryPool (queued.max.request.bytes): leases while any byte is free,
// not strict like Kafka's network pool, and every lease comes back.
#include "kafka/request_memory_pool.h"

#include <gtest/gtest.h>

#include <utility>

namespace runnel {
namespace {

TEST(RequestMemoryPool, WithoutABudgetGrantsEverythingAndCountsNothing) {
  RequestMemoryPool pool(-1);
  EXPECT_FALSE(pool.bounded());
  RequestMemoryPool::Lease a, b;
  EXPECT_TRUE(pool.try_acquire(int64_t(1) << 40, &a));
  EXPECT_TRUE(pool.try_acquire(int64_t(1) << 40, &b));
  EXPECT_EQ(pool.used(), 0);
}

TEST(RequestMemoryPool, GrantsWhileAnyByteIsFreeAndTakesLeasesBack) {
  RequestMemoryPool pool(1000);
  RequestMemoryPool::Lease a, b, c;
  EXPECT_TRUE(pool.try_acquire(600, &a));
  EXPECT_EQ(pool.used(), 600);
  // 400 free: a request of 900 is still admitted (Kafka's pool is not strict).
  EXPECT_TRUE(pool.try_acquire(900, &b));
  EXPECT_EQ(pool.used(), 1500);
  EXPECT_FALSE(pool.try_acquire(1, &c));
  b.reset();
  EXPECT_EQ(pool.used(), 600);
  EXPECT_TRUE(pool.try_acquire(400, &c));
  EXPECT_FALSE(pool.try_acquire(1, &b));  // exactly full
  a = std::move(c);                       // a's 600 back, c's 400 now held by a
  EXPECT_EQ(pool.used(), 400);
  {
    RequestMemoryPool::Lease moved(std::move(a));
    EXPECT_EQ(pool.used(), 400);
  }
  EXPECT_EQ(pool.used(), 0);
}

TEST(RequestMemoryPool, CountsWaits) {
  RequestMemoryPool pool(10);
  EXPECT_EQ(pool.waits(), 0u);
  pool.note_wait();
  EXPECT_EQ(pool.waits(), 1u);
}

}  // namespace
}  // namespace runnel
