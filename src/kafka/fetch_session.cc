#include "kafka/fetch_session.h"

#include <algorithm>
#include <random>

#include "cluster/partition.h"

namespace runnel {

namespace {

// Session ids are unique broker-wide (a client that reconnects cannot name
// another connection's session), and start at a random point so that a
// restarted broker does not hand out the ids its predecessor did.
int32_t next_session_id() {
  static std::atomic<uint32_t> next{std::random_device{}()};
  for (;;) {
    const auto id = static_cast<int32_t>(next.fetch_add(1, std::memory_order_relaxed) & 0x7fffffff);
    if (id != 0) return id;
  }
}

std::atomic<int64_t> open_sessions_count{0};
std::atomic<int64_t> held_partitions_count{0};

}  // namespace

FetchSession::FetchSession(int32_t id) : id_(id), wake_(std::make_shared<Wake>()) {
  open_sessions_count.fetch_add(1, std::memory_order_relaxed);
}

FetchSession::~FetchSession() {
  open_sessions_count.fetch_sub(1, std::memory_order_relaxed);
  held_partitions_count.fetch_sub(static_cast<int64_t>(entries_.size()), std::memory_order_relaxed);
}

void FetchSession::Wake::wake() {
  std::lock_guard lock(mu);
  if (!executor || timer.expired()) return;
  asio::post(*executor, [weak = timer] {
    if (auto t = weak.lock()) t->cancel();
  });
}

FetchSession::Entry& FetchSession::name(const std::string& topic, const protocol::Uuid& topic_id,
                                        const protocol::FetchRequest::FetchPartition& partition) {
  auto& slot = by_name_[{topic, partition.partition}];
  if (!slot) {
    slot = std::make_shared<Entry>();
    slot->topic = topic;
    slot->waiter = std::make_shared<cluster::FetchWaiter>();
    // Runs on the partition's shard, while the entry may be gone.
    slot->waiter->notify = [entry = std::weak_ptr<Entry>(slot), wake = std::weak_ptr<Wake>(wake_)] {
      if (auto e = entry.lock()) e->dirty.store(true, std::memory_order_release);
      if (auto w = wake.lock()) w->wake();
    };
    entries_.push_back(slot);
    held_partitions_count.fetch_add(1, std::memory_order_relaxed);
  }
  slot->topic_id = topic_id;
  slot->request = partition;
  slot->in_round = true;
  return *slot;
}

void FetchSession::forget(const std::string& topic, int32_t partition) {
  auto it = by_name_.find({topic, partition});
  if (it == by_name_.end()) return;
  std::erase(entries_, it->second);
  by_name_.erase(it);
  held_partitions_count.fetch_sub(1, std::memory_order_relaxed);
}

bool FetchSession::sweep_due(int64_t now_ms, int64_t interval_ms) {
  if (last_sweep_ms_ != std::numeric_limits<int64_t>::min() && now_ms - last_sweep_ms_ < interval_ms) return false;
  last_sweep_ms_ = now_ms;
  return true;
}

FetchSession* FetchSessions::create() {
  if (sessions_.size() >= kMaxPerConnection) return nullptr;
  return sessions_.emplace_back(std::make_unique<FetchSession>(next_session_id())).get();
}

FetchSession* FetchSessions::find(int32_t id) {
  for (auto& s : sessions_)
    if (s->id() == id) return s.get();
  return nullptr;
}

void FetchSessions::close(int32_t id) {
  std::erase_if(sessions_, [id](const auto& s) { return s->id() == id; });
}

int64_t FetchSessions::open_sessions() { return open_sessions_count.load(std::memory_order_relaxed); }

int64_t FetchSessions::held_partitions() { return held_partitions_count.load(std::memory_order_relaxed); }

}  // namespace runnel
