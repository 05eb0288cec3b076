#pragma once
// The shard-per-core runtime: each Shard is one thread running its own
// asio::io_context. State owned by a shard (its partitions, its connections)
// is touched only on that shard's thread, so the data path takes no locks.
// on_shard() runs a function on another shard and resumes the caller on its
// own executor with the result.
//
// Thread-safety: ShardSet is built before the threads start and is read-only
// afterwards; current_shard() is thread-local.
#include <asio.hpp>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace runnel {

// An io_context whose pending handlers can be destroyed before it is.
// Handlers cross shards (a coroutine on one shard awaits work on another and
// holds a work guard on its own shard's executor), so every shard's handlers
// must be destroyed while all the shards, and the broker state those handlers
// reference, are still alive; ~io_context alone would destroy them one shard
// at a time, touching shards already freed.
class ShardContext : public asio::io_context {
 public:
  using asio::execution_context::shutdown;
};

class Shard {
 public:
  explicit Shard(int id) : id_(id), work_(asio::make_work_guard(io_)) {}
  int id() const { return id_; }
  asio::io_context& io() { return io_; }
  asio::io_context::executor_type executor() { return io_.get_executor(); }
  bool is_current() const;

 private:
  friend class ShardSet;
  int id_;
  ShardContext io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

class ShardSet {
 public:
  explicit ShardSet(int count);
  ~ShardSet();
  int size() const { return static_cast<int>(shards_.size()); }
  Shard& at(int id) { return *shards_[id]; }
  // Starts one thread per shard; returns at once.
  void start();
  // Stops every io_context, joins the threads, then destroys the handlers
  // still pending on any shard (coroutines suspended at shutdown) while all
  // the shards are alive. Call it before destroying what those handlers use.
  void stop();

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
};

// The shard whose thread is running, or nullptr on any other thread.
Shard* current_shard();

template <class T>
struct awaitable_traits : std::false_type {};
template <class T, class E>
struct awaitable_traits<asio::awaitable<T, E>> : std::true_type {
  using value_type = T;
};

// Runs fn() on `target` (directly when already there) and returns its result
// on the caller's executor. fn may return a value or an asio::awaitable<T>.
//
// fn is taken by reference: it lives in the caller's co_await expression until
// the result is back. Callers must capture only references and trivially
// destructible values: GCC 12 destroys non-trivial temporaries of a co_await
// expression twice (GCC PR 100611), so a lambda that captures a string or a
// vector by value, passed here as a temporary, corrupts the heap.
template <class F>
requires awaitable_traits<std::invoke_result_t<F&>>::value auto on_shard(Shard& target, F&& fn)
    -> asio::awaitable<typename awaitable_traits<std::invoke_result_t<F&>>::value_type> {
  if (target.is_current()) co_return co_await fn();
  co_return co_await asio::co_spawn(
      target.executor(), [&fn]() { return fn(); }, asio::use_awaitable);
}

template <class F>
requires(!awaitable_traits<std::invoke_result_t<F&>>::value) auto on_shard(Shard& target, F&& fn)
    -> asio::awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  if (target.is_current()) co_return fn();
  co_return co_await asio::co_spawn(
      target.executor(), [&fn]() -> asio::awaitable<R> { co_return fn(); }, asio::use_awaitable);
}

}  // namespace runnel
