#include "runtime/shard.h"

#include <spdlog/spdlog.h>

#include <string>

#include "base/thread_name.h"

namespace runnel {
namespace {
thread_local Shard* tls_current = nullptr;
}

Shard* current_shard() { return tls_current; }

bool Shard::is_current() const { return tls_current == this; }

ShardSet::ShardSet(int count) {
  for (int i = 0; i < count; ++i) shards_.push_back(std::make_unique<Shard>(i));
}

ShardSet::~ShardSet() { stop(); }

void ShardSet::start() {
  for (auto& s : shards_) {
    Shard* shard = s.get();
    shard->thread_ = std::thread([shard] {
      name_this_thread("shard-" + std::to_string(shard->id_));
      tls_current = shard;
      try {
        shard->io_.run();
      } catch (const std::exception& e) {
        spdlog::critical("shard {} stopped by an uncaught exception: {}", shard->id_, e.what());
        std::abort();
      }
      tls_current = nullptr;
    });
  }
}

void ShardSet::stop() {
  for (auto& s : shards_) s->work_.reset();
  for (auto& s : shards_) s->io_.stop();
  for (auto& s : shards_)
    if (s->thread_.joinable()) s->thread_.join();
  // Destroying a coroutine suspended on one shard posts the destruction of
  // the coroutine awaiting it to that one's shard (asio destroys a coroutine
  // stack on its own executor), which may already have been shut down. Each
  // round destroys what the previous one posted; chains are as deep as nested
  // on_shard() calls, a few at most.
  constexpr int kShutdownRounds = 8;
  for (int round = 0; round < kShutdownRounds; ++round)
    for (auto& s : shards_) s->io_.shutdown();
}

}  // namespace runnel
