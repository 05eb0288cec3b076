#pragma once
// Bridges callback-style completion into C++20 coroutines: the initiating
// function receives a `done(T)` callable that may be called once, from the
// same thread, now or later; the awaiting coroutine resumes on its own
// executor (always via post, so a synchronous `done` never re-enters it).
#include <asio.hpp>
#include <memory>

namespace runnel {

template <class T, class Init>
asio::awaitable<T> await_callback(Init init) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
      [init = std::move(init)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        init([shared](T value) {
          auto executor = asio::get_associated_executor(*shared);
          asio::post(executor, [shared, value = std::move(value)]() mutable { std::move (*shared)(std::move(value)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace runnel
