#pragma once
// on_shards_concurrently(): runs several jobs at once, each on its own shard
// (a partition's owner), and resumes the caller on its executor with every
// result once the last is done. For waits that should overlap, such as the
// fdatasyncs of the partitions of one request: with on_shard() in a loop the
// second partition's sync would only be requested once the first's is done.
//
// Thread-safety: the results are gathered on the caller's executor; each job
// runs on its shard's thread.
#include <algorithm>
#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/shard.h"

namespace runnel {

// The distinct shards named by `items` (each item's `owner`, a Shard*), in
// the order they first appear: the hops a request over many partitions makes,
// one per shard, each handling that shard's items in the request's order.
// Only the items `wanted` accepts count.
template <class Items, class Wanted>
std::vector<Shard*> owners_in_order(const Items& items, Wanted wanted) {
  std::vector<Shard*> shards;
  for (const auto& item : items)
    if (wanted(item) && std::find(shards.begin(), shards.end(), item.owner) == shards.end())
      shards.push_back(item.owner);
  return shards;
}
template <class Items>
std::vector<Shard*> owners_in_order(const Items& items) {
  return owners_in_order(items, [](const auto&) { return true; });
}

template <class T>
struct ShardJob {
  Shard* shard = nullptr;
  // May refer to the caller's frame: the caller waits for every job.
  std::function<asio::awaitable<T>()> fn;
};

// The results of `jobs`, in order; a job that throws gives `on_exception`.
// (`jobs` by reference: see on_shard() about temporaries in co_await.)
template <class T>
asio::awaitable<std::vector<T>> on_shards_concurrently(const std::vector<ShardJob<T>>& jobs, T on_exception) {
  if (jobs.empty()) co_return std::vector<T>{};
  if (jobs.size() == 1) {  // nothing to overlap: one hop, as on_shard()
    std::vector<T> one(1, on_exception);
    try {
      one[0] = co_await on_shard(*jobs[0].shard, jobs[0].fn);
    } catch (...) {
    }
    co_return one;
  }
  struct State {
    explicit State(const asio::any_io_executor& ex, size_t n, const T& fallback)
        : results(n, fallback), left(n), timer(ex) {}
    std::vector<T> results;
    size_t left;
    asio::steady_timer timer;  // cancelled when the last job is done
  };
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  auto state = std::make_shared<State>(ex, jobs.size(), on_exception);
  state->timer.expires_at(asio::steady_timer::time_point::max());
  for (size_t i = 0; i < jobs.size(); ++i) {
    asio::co_spawn(
        jobs[i].shard->executor(),
        [state, ex, i, fn = jobs[i].fn]() -> asio::awaitable<void> {
          std::optional<T> result;
          try {
            result = co_await fn();
          } catch (...) {
          }
          // Posted, never run inline: the caller is suspended on the timer
          // before any of these runs (it runs on the caller's thread).
          asio::post(ex, [state, i, result = std::move(result)]() mutable {
            if (result) state->results[i] = std::move(*result);
            if (--state->left == 0) state->timer.cancel();
          });
        },
        asio::detached);
  }
  while (state->left > 0) {
    std::error_code ec;  // operation_aborted once the last job is done
    co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(state->results);
}

}  // namespace runnel
