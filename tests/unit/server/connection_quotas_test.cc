// ConnectionQuotas: the bookkeeping behind max.connections.per.ip (and its
// overrides), max.connections and listener.name.<l>.max.connections, with
// the inter-broker listener exempt from the broker-wide max (KIP-402).
#include "kafka/connection_quotas.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace runnel {
namespace {

using Admission = ConnectionQuotas::Admission;

TEST(ConnectionQuotas, UnlimitedByDefault) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.count_of("10.0.0.1"), 1000);
  EXPECT_EQ(q.total(), 1000);
}

TEST(ConnectionQuotas, PerIpLimitRejectsTheNextAndCountsNothing) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  ConnectionQuotaSettings s;
  s.max_connections_per_ip = 2;
  q.configure(s);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  int32_t limit = 0;
  EXPECT_EQ(q.admit(0, "10.0.0.1", &limit), Admission::kPerIpLimit);
  EXPECT_EQ(limit, 2);
  EXPECT_EQ(q.count_of("10.0.0.1"), 2);
  EXPECT_EQ(q.rejected_per_ip(0), 1u);
  // Another address has its own count.
  EXPECT_EQ(q.admit(0, "10.0.0.2"), Admission::kAdmitted);
  // One closes: the next is admitted.
  q.release(0, "10.0.0.1");
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.total(), 3);
}

TEST(ConnectionQuotas, OverridesByAddressAndZeroDefault) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  ConnectionQuotaSettings s;
  s.max_connections_per_ip = 0;
  s.per_ip_overrides = {{"127.0.0.1", 3}, {"localhost", 3}};
  q.configure(s);
  EXPECT_EQ(q.admit(0, "127.0.0.2"), Admission::kPerIpLimit);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.admit(0, "127.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(0, "127.0.0.1"), Admission::kPerIpLimit);
}

TEST(ConnectionQuotas, LoweringALimitKeepsOpenConnections) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  ConnectionQuotaSettings s;
  s.max_connections_per_ip = 2;
  q.configure(s);
  EXPECT_EQ(q.count_of("10.0.0.1"), 5);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kPerIpLimit);
  for (int i = 0; i < 3; ++i) q.release(0, "10.0.0.1");
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kPerIpLimit);  // 2 still open
  q.release(0, "10.0.0.1");
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
}

TEST(ConnectionQuotas, BrokerWideMaxBlocksAndTheInterBrokerListenerIsExempt) {
  ConnectionQuotas q({"CLIENT", "INTERNAL"}, "INTERNAL");
  ConnectionQuotaSettings s;
  s.max_connections = 2;
  q.configure(s);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(0, "10.0.0.2"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(0, "10.0.0.3"), Admission::kNoSlot);
  EXPECT_EQ(q.count_of("10.0.0.3"), 0);
  // KIP-402: the inter-broker listener is limited by its own listener max
  // (which defaults to max.connections), not by the broker-wide total.
  EXPECT_EQ(q.admit(1, "10.0.0.9"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(1, "10.0.0.9"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(1, "10.0.0.9"), Admission::kNoSlot);
  EXPECT_EQ(q.total(), 4);
  // Client slots free only once the total is under the max again.
  q.release(0, "10.0.0.1");
  EXPECT_EQ(q.admit(0, "10.0.0.3"), Admission::kNoSlot);
  q.release(1, "10.0.0.9");
  q.release(1, "10.0.0.9");
  EXPECT_EQ(q.admit(0, "10.0.0.3"), Admission::kAdmitted);
}

TEST(ConnectionQuotas, SingleListenerIsNotProtected) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  ConnectionQuotaSettings s;
  s.max_connections = 1;
  s.listener_max = {{"plaintext", 5}};
  q.configure(s);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(0, "10.0.0.1"), Admission::kNoSlot);
}

TEST(ConnectionQuotas, ListenerMaxAndRaisingTheLimitWakes) {
  ConnectionQuotas q({"PLAINTEXT", "SSL"}, "PLAINTEXT");
  std::atomic<int> wakes = 0;
  int id = q.add_waker([&] { ++wakes; });
  ConnectionQuotaSettings s;
  s.listener_max = {{"ssl", 1}};
  q.configure(s);
  EXPECT_EQ(q.admit(1, "10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(q.admit(1, "10.0.0.2"), Admission::kNoSlot);
  EXPECT_EQ(q.admit(0, "10.0.0.2"), Admission::kAdmitted);  // another listener
  EXPECT_EQ(wakes, 0);
  q.note_waiting(1);  // an accept loop waits
  s.listener_max = {{"ssl", 2}};
  q.configure(s);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(q.admit(1, "10.0.0.2"), Admission::kAdmitted);
  q.release(1, "10.0.0.1");
  EXPECT_EQ(wakes, 2);
  q.note_waiting(-1);
  q.release(1, "10.0.0.2");
  EXPECT_EQ(wakes, 2);  // nobody waits
  q.remove_waker(id);
  q.note_waiting(1);
  q.release(0, "10.0.0.2");
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(q.total(), 0);
}

TEST(ConnectionQuotas, ConcurrentAdmitAndReleaseKeepCountsExact) {
  ConnectionQuotas q({"PLAINTEXT"}, "PLAINTEXT");
  ConnectionQuotaSettings s;
  s.max_connections_per_ip = 4;
  q.configure(s);
  std::atomic<int> over = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (q.admit(0, "10.0.0.1") != Admission::kAdmitted) continue;
        if (q.count_of("10.0.0.1") > 4) ++over;
        q.release(0, "10.0.0.1");
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(over, 0);
  EXPECT_EQ(q.total(), 0);
  EXPECT_EQ(q.count_of("10.0.0.1"), 0);
}

}  // namespace
}  // namespace runnel
