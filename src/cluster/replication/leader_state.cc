#include "cluster/replication/leader_state.h"

#include <algorithm>

namespace runnel::cluster::replication {

LeaderState::LeaderState(NodeId self, std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms)
    : self_(self), replicas_(std::move(replicas)), isr_(std::move(isr)) {
  reset_followers(now_ms);
}

void LeaderState::reset_followers(int64_t now_ms) {
  std::vector<Follower> next;
  for (NodeId node : replicas_) {
    if (node == self_) continue;
    Follower f;
    if (auto* old = find(node)) f = *old;
    f.node = node;
    if (f.caught_up_ms < 0 && in_isr(node)) f.caught_up_ms = now_ms;
    next.push_back(f);
  }
  followers_ = std::move(next);
}

void LeaderState::update(std::vector<NodeId> replicas, std::vector<NodeId> isr, int64_t now_ms) {
  // A member removed from the ISR (by this leader, or by the controller when
  // its broker died) must fetch again before it can rejoin: what it did
  // before no longer counts.
  for (auto& f : followers_) {
    bool stays = std::find(isr.begin(), isr.end(), f.node) != isr.end();
    if (in_isr(f.node) && !stays) f = Follower{f.node};
  }
  replicas_ = std::move(replicas);
  isr_ = std::move(isr);
  reset_followers(now_ms);
}

void LeaderState::restart_lag_clocks(int64_t now_ms) {
  for (auto& f : followers_)
    if (in_isr(f.node)) f.caught_up_ms = std::max(f.caught_up_ms, now_ms);
}

bool LeaderState::in_isr(NodeId node) const { return std::find(isr_.begin(), isr_.end(), node) != isr_.end(); }

LeaderState::Follower* LeaderState::find(NodeId node) {
  for (auto& f : followers_)
    if (f.node == node) return &f;
  return nullptr;
}

const LeaderState::Follower* LeaderState::follower(NodeId node) const {
  for (const auto& f : followers_)
    if (f.node == node) return &f;
  return nullptr;
}

bool LeaderState::on_follower_fetch(NodeId node, Offset fetch_offset, Offset durable_offset, Offset leader_end,
                                    int64_t now_ms) {
  auto* f = find(node);
  if (!f) return false;
  if (fetch_offset >= leader_end)
    f->caught_up_ms = std::max(f->caught_up_ms, now_ms);
  else if (f->leader_end_at_last_fetch >= Offset(0) && fetch_offset >= f->leader_end_at_last_fetch)
    f->caught_up_ms = std::max(f->caught_up_ms, f->last_fetch_ms);
  f->fetch_offset = fetch_offset;
  // A follower has durable only what it still has: never more than its log end.
  f->durable_offset = durable_offset < Offset(0) ? kUndefinedOffset : std::min(durable_offset, fetch_offset);
  f->leader_end_at_last_fetch = leader_end;
  f->last_fetch_ms = now_ms;
  return true;
}

std::optional<Offset> LeaderState::high_watermark(Offset leader_durable, int32_t min_insync_replicas) const {
  if (static_cast<int32_t>(isr_.size()) < min_insync_replicas) return std::nullopt;
  Offset hw = leader_durable;
  for (const auto& f : followers_) {
    if (!in_isr(f.node)) continue;
    // An ISR member not heard from since this leader took over holds the
    // high watermark where it is.
    if (f.durable_offset < Offset(0)) return std::nullopt;
    hw = std::min(hw, f.durable_offset);
  }
  return hw;
}

std::optional<std::vector<NodeId>> LeaderState::proposed_isr(int64_t now_ms, int64_t lag_max_ms,
                                                             Offset high_watermark) const {
  // Who belongs in the ISR: this leader, and each follower that fetched
  // recently enough and, to join, has caught up with the high watermark
  // (fetched and made durable).
  auto belongs = [&](NodeId node) {
    if (node == self_) return true;
    const Follower* f = follower(node);
    const bool fresh = f && f->caught_up_ms >= 0 && now_ms - f->caught_up_ms <= lag_max_ms;
    if (in_isr(node)) return fresh;
    return fresh && f->fetch_offset >= high_watermark && f->durable_offset >= high_watermark;
  };
  // Checked for every led partition several times a second: nothing is
  // allocated unless the ISR changes (a member leaves or joins, or one no
  // longer among the replicas goes).
  bool changed = false;
  for (NodeId node : replicas_) changed = changed || belongs(node) != in_isr(node);
  for (NodeId node : isr_) changed = changed || std::find(replicas_.begin(), replicas_.end(), node) == replicas_.end();
  if (!changed) return std::nullopt;
  std::vector<NodeId> next;
  for (NodeId node : replicas_)
    if (belongs(node)) next.push_back(node);
  return next;
}

}  // namespace runnel::cluster::replication
