#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

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

}  // namespace
}  // namespace runnel
