#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "runtime/shard.h"

namespace runnel {
namespace {

// Sets a flag when the coroutine frame holding it is destroyed.
struct DestroyedFlag {
  std::atomic<bool>* flag;
  ~DestroyedFlag() { flag->store(true); }
};

// A coroutine on shard 0 waits on shard 1 for an hour-long timer when the set
// stops. Its frames hold work guards on both shards, so they must be destroyed
// while both are alive: by stop(), not by the shards' destructors one by one.
TEST(ShardSetTest, StopDestroysPendingCrossShardCoroutinesWhileAllShardsLive) {
  std::atomic<bool> caller_destroyed{false};
  std::atomic<bool> callee_destroyed{false};
  std::promise<void> waiting;
  {
    ShardSet shards(2);
    shards.start();
    asio::co_spawn(
        shards.at(0).executor(),
        [&]() -> asio::awaitable<void> {
          DestroyedFlag guard{&caller_destroyed};
          auto wait_on_shard1 = [&]() -> asio::awaitable<void> {
            DestroyedFlag inner{&callee_destroyed};
            asio::steady_timer timer(shards.at(1).executor(), std::chrono::hours(1));
            waiting.set_value();
            co_await timer.async_wait(asio::use_awaitable);
          };
          co_await on_shard(shards.at(1), wait_on_shard1);
        },
        asio::detached);
    ASSERT_EQ(waiting.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    shards.stop();
    EXPECT_TRUE(callee_destroyed.load());
    EXPECT_TRUE(caller_destroyed.load());
  }
}

// Each shard's thread carries its shard's name, so that top -H and perf
// tell the shards apart (base/thread_name.h).
TEST(ShardSetTest, ShardThreadsAreNamedAfterTheirShard) {
  ShardSet shards(2);
  shards.start();
  for (int i = 0; i < 2; ++i) {
    std::promise<std::string> name;
    asio::post(shards.at(i).executor(), [&name] {
      char buffer[16] = {};
      pthread_getname_np(pthread_self(), buffer, sizeof buffer);
      name.set_value(buffer);
    });
    auto future = name.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(future.get(), "shard-" + std::to_string(i));
  }
  shards.stop();
}

}  // namespace
}  // namespace runnel
