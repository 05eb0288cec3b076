#pragma once
// Bounds how many of one shard's partitions have a sync request on the
// flusher at once. A request holds descriptors until it is done (the
// directory, the files of segments sealed since the last sync), beyond what
// the descriptor cache counts; a few thousand partitions flushing together
// (the idle flush after a produce round to all of them) would otherwise run
// the process out of descriptors. Partitions past the limit queue here and
// are let through, in order, as requests finish.
//
// Thread-safety: none; one per shard, used on that shard only.
#include <cstddef>
#include <deque>
#include <functional>

namespace runnel::cluster {

class FlushGate {
 public:
  explicit FlushGate(size_t limit) : limit_(limit < 1 ? 1 : limit) {}

  // Takes a slot if one is free.
  bool try_acquire() {
    if (in_flight_ >= limit_) return false;
    ++in_flight_;
    return true;
  }
  // Queues for a slot. When one frees up, release() calls `take`: true means
  // the slot is now the caller's (it must release() it in turn), false that
  // it no longer wants one (a partition dropped meanwhile), and the next in
  // line is asked.
  void wait(std::function<bool()> take) { waiting_.push_back(std::move(take)); }
  void release() {
    while (!waiting_.empty()) {
      auto take = std::move(waiting_.front());
      waiting_.pop_front();
      if (take()) return;  // handed over
    }
    if (in_flight_ > 0) --in_flight_;
  }
  size_t in_flight() const { return in_flight_; }

 private:
  size_t limit_;
  size_t in_flight_ = 0;
  std::deque<std::function<bool()>> waiting_;
};

}  // namespace runnel::cluster
