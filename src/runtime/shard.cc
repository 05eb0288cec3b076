#include "runtime/shard.h"

#include <spdlog/spdlog.h>

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
}

}  // namespace runnel
