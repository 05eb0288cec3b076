#include "cluster/partition.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "protocol/reader.h"
#include "protocol/record_codec.h"

namespace runnel::cluster {

Partition::Partition(std::string topic, PartitionId index, std::unique_ptr<storage::PartitionLog> log,
                     storage::Flusher& flusher, Shard& shard, std::shared_ptr<FlushGate> gate)
    : topic_(std::move(topic)),
      index_(index),
      log_(std::move(log)),
      flusher_(flusher),
      shard_(shard),
      gate_(std::move(gate)) {}

Partition::~Partition() {
  *alive_ = false;
  // A fetch session's partition whose waiter is here learns that this
  // replica is gone (it looks it up again).
  notify_fetch_waiters();
}

ErrorCode Partition::check_leader_epoch(LeaderEpoch current_leader_epoch) const {
  if (current_leader_epoch == kUndefinedEpoch) return ErrorCode::NONE;
  if (current_leader_epoch > leader_epoch()) return ErrorCode::UNKNOWN_LEADER_EPOCH;
  if (current_leader_epoch < leader_epoch()) return ErrorCode::FENCED_LEADER_EPOCH;
  return ErrorCode::NONE;
}

storage::EpochEndOffset Partition::end_offset_for_epoch(LeaderEpoch epoch) const {
  Offset end = log_end_offset();
  storage::EpochList epochs(log_->epoch_entries());
  epochs.assign(leader_epoch(), end);
  return epochs.end_offset_for(epoch, end);
}

void Partition::go_offline(const std::string& why) {
  if (offline_) return;
  offline_ = true;
  spdlog::error("partition {}-{} is offline until the broker restarts: {}", topic_, index_.value(), why);
  for (auto& w : durable_waiters_) w.resume(false);
  durable_waiters_.clear();
  resume_commit_waiters(ErrorCode::KAFKA_STORAGE_ERROR);
  notify_fetch_waiters();
  if (on_offline_) on_offline_();
}

void Partition::on_write_error(int error) {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case EFBIG:
      return;  // nothing written was lost, and the next append may succeed
    default:
      go_offline(std::string("a write failed: ") + std::strerror(error));
  }
}

storage::AppendResult Partition::append_as_leader(const char* what, int64_t now_ms,
                                                  const std::function<storage::AppendResult()>& write) {
  if (role_ != Role::Leader || offline_) {
    storage::AppendResult r;
    r.error = offline_ ? ErrorCode::KAFKA_STORAGE_ERROR : ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return r;
  }
  errno = 0;
  auto result = write();
  if (result.error == ErrorCode::KAFKA_STORAGE_ERROR) {
    const int error = errno ? errno : EIO;
    spdlog::error("{}-{}: {} failed: {}", topic_, index_.value(), what, std::strerror(error));
    ++truncations_;  // what it wrote was cut back, and the next append writes there again
    on_write_error(error);
  }
  if (result.error == ErrorCode::NONE) {
    last_append_ms_ = now_ms;
    if (!replicated_) log_->on_high_watermark(high_watermark().value());
    // Followers wait for data past the high watermark; and in a cluster the
    // high watermark moves only once this append is durable: sync it now.
    notify_fetch_waiters();
    if (replicated_ || flush_due(now_ms)) request_flush(/*force=*/true);
  }
  return result;
}

storage::AppendResult Partition::append(std::span<uint8_t> batches, int64_t now_ms,
                                        const storage::TxnVerification& verification) {
  auto result =
      append_as_leader("append", now_ms, [&] { return log_->append(batches, leader_epoch(), now_ms, verification); });
  if (result.error == ErrorCode::NONE && result.last_offset >= result.base_offset) {
    traffic_.records_in += static_cast<uint64_t>(result.last_offset - result.base_offset + 1);
    traffic_.bytes_in += batches.size();
  }
  return result;
}

ErrorCode Partition::start_txn_verification(int64_t producer_id, int32_t first_seq, int16_t epoch, int64_t now_ms,
                                            uint64_t& guard) {
  guard = storage::TxnVerification::kNoGuard;
  if (offline_) return ErrorCode::KAFKA_STORAGE_ERROR;
  if (role_ != Role::Leader) return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  guard = log_->start_txn_verification(producer_id, first_seq, epoch, now_ms);
  return ErrorCode::NONE;
}

storage::AppendResult Partition::append_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                                   const protocol::TxnMarker& marker, int64_t now_ms) {
  return append_as_leader("writing a transaction marker", now_ms, [&] {
    return log_->append_txn_marker(producer_id, producer_epoch, marker, leader_epoch(), now_ms);
  });
}

storage::AppendResult Partition::append_replicated(std::span<const uint8_t> batches, int64_t now_ms) {
  if (role_ != Role::Follower || offline_) {
    storage::AppendResult r;
    r.error = offline_ ? ErrorCode::KAFKA_STORAGE_ERROR : ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return r;
  }
  errno = 0;
  auto result = log_->append_replicated(batches, now_ms);
  if (result.error == ErrorCode::KAFKA_STORAGE_ERROR) {
    const int error = errno ? errno : EIO;
    spdlog::error("{}-{}: replicated append failed: {}", topic_, index_.value(), std::strerror(error));
    ++truncations_;  // as in append_as_leader
    on_write_error(error);
  }
  if (result.error == ErrorCode::NONE && result.last_offset >= 0) {
    last_append_ms_ = now_ms;
    request_flush(/*force=*/true);
  }
  return result;
}

void Partition::set_leader_high_watermark(Offset high_watermark) {
  if (role_ != Role::Follower) return;
  Offset hw = std::min(high_watermark, log_end_offset());
  if (hw > hw_) hw_ = hw;
  log_->on_high_watermark(hw_.value());
}

asio::awaitable<bool> Partition::wait_no_sync_in_flight() {
  auto alive = alive_;
  asio::steady_timer timer(shard_.io());
  while (flush_in_flight_) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::use_awaitable);
    if (!*alive) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Partition::truncate_fully_and_start_at(Offset offset) {
  if (!co_await wait_no_sync_in_flight()) co_return false;
  int64_t before = log_->log_end_offset();
  ++truncations_;
  if (!log_->truncate_fully_and_start_at(offset)) {
    spdlog::error("{}-{}: starting over at {} failed: {}", topic_, index_.value(), offset.value(),
                  std::strerror(errno));
    co_return false;
  }
  spdlog::warn("{}-{}: the leader's log starts at {}, past this replica's log end {}: started over, empty, at {}",
               topic_, index_.value(), offset.value(), before, offset.value());
  hw_ = log_end_offset();
  co_return true;
}

asio::awaitable<bool> Partition::truncate_to(Offset offset) {
  if (!co_await wait_no_sync_in_flight()) co_return false;
  int64_t before = log_->log_end_offset();
  ++truncations_;
  bool ok = log_->truncate_to(offset);
  if (!ok) {
    spdlog::error("{}-{}: truncating to {} failed: {}", topic_, index_.value(), offset.value(), std::strerror(errno));
    co_return false;
  }
  if (log_->log_end_offset() < before)
    spdlog::info("{}-{}: truncated the divergent suffix: log end {} -> {}", topic_, index_.value(), before,
                 log_->log_end_offset());
  hw_ = std::min(hw_, log_end_offset());
  co_return true;
}

void Partition::become_leader(LeaderEpoch epoch, std::vector<NodeId> replicas, std::vector<NodeId> isr,
                              int64_t now_ms) {
  if (role_ == Role::Leader && epoch == epoch_ && leader_state_) {
    leader_state_->update(std::move(replicas), std::move(isr), now_ms);
    advance_high_watermark();
    answer_waiters_below_min_insync();
    return;
  }
  // The epoch is not written to the epoch cache here: its first append does
  // that, and end_offset_for_epoch() counts it from the log end meanwhile
  // (Kafka's makeLeader writes it at once, one fsync per partition that a
  // restart would drop again, as the entry has no record yet).
  bool was_leader = role_ == Role::Leader;
  role_ = Role::Leader;
  epoch_ = epoch;
  epoch_start_offset_ = log_end_offset();
  leader_ = self_;
  isr_change_in_flight_ = false;
  if (replicated_)
    leader_state_ = std::make_unique<replication::LeaderState>(self_, std::move(replicas), std::move(isr), now_ms);
  if (!was_leader && replicated_)
    spdlog::info("{}-{}: leader in epoch {} (log end {}, high watermark {})", topic_, index_.value(), epoch.value(),
                 log_->log_end_offset(), hw_.value());
  advance_high_watermark();
}

void Partition::become_follower(NodeId leader, LeaderEpoch epoch) {
  bool changed = role_ != Role::Follower || leader != leader_ || epoch != epoch_;
  role_ = Role::Follower;
  leader_ = leader;
  epoch_ = epoch;
  leader_state_.reset();
  isr_change_in_flight_ = false;
  resume_commit_waiters(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  notify_fetch_waiters();  // a parked Fetch answers NOT_LEADER_OR_FOLLOWER now
  if (changed)
    spdlog::info("{}-{}: follower of node {} in epoch {} (log end {})", topic_, index_.value(), leader.value(),
                 epoch.value(), log_->log_end_offset());
}

void Partition::on_follower_fetch(NodeId node, Offset fetch_offset, Offset durable_offset, int64_t now_ms) {
  if (!leader_state_) return;
  if (leader_state_->on_follower_fetch(node, fetch_offset, durable_offset, log_end_offset(), now_ms))
    advance_high_watermark();
}

std::optional<std::vector<NodeId>> Partition::proposed_isr(int64_t now_ms, int64_t lag_max_ms) const {
  if (!leader_state_ || isr_change_in_flight_) return std::nullopt;
  return leader_state_->proposed_isr(now_ms, lag_max_ms, high_watermark());
}

void Partition::restart_follower_lag_clocks(int64_t now_ms) {
  if (leader_state_) leader_state_->restart_lag_clocks(now_ms);
}

bool Partition::leader_throttled() const {
  return log_->config().leader_throttled.covers(index_.value(), self_.value());
}

bool Partition::follower_throttled() const {
  return log_->config().follower_throttled.covers(index_.value(), self_.value());
}

const std::vector<NodeId>& Partition::isr() const {
  static const std::vector<NodeId> none;
  return leader_state_ ? leader_state_->isr() : none;
}

void Partition::isr_change_finished(bool committed, std::vector<NodeId> isr, int64_t now_ms) {
  isr_change_in_flight_ = false;
  if (!committed || !leader_state_) return;
  leader_state_->update(leader_state_->replicas(), std::move(isr), now_ms);
  advance_high_watermark();
  answer_waiters_below_min_insync();
}

void Partition::answer_waiters_below_min_insync() {
  // Kafka's DelayedProduce: with the ISR below min.insync.replicas, an
  // acks=all append not yet committed cannot complete, and is answered
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND at once rather than at its timeout.
  // Held to the timeout, the answer races the client's own request timeout
  // (librdkafka's request.timeout.ms is the Produce timeout it sends): a
  // client that gives up first disconnects and counts the batch as possibly
  // persisted, and librdkafka before 2.3.0 can then desynchronise its
  // sequences and bump its idempotent epoch, resending what was appended.
  if (check_min_insync() != ErrorCode::NONE) resume_commit_waiters(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
}

ErrorCode Partition::check_min_insync() const {
  if (!replicated_ || !leader_state_) return ErrorCode::NONE;
  if (static_cast<int32_t>(leader_state_->isr().size()) < log_->config().min_insync_replicas)
    return ErrorCode::NOT_ENOUGH_REPLICAS;
  return ErrorCode::NONE;
}

void Partition::advance_high_watermark() {
  if (!replicated_ || !leader_state_) return;
  auto candidate = leader_state_->high_watermark(durable_offset(), log_->config().min_insync_replicas);
  if (!candidate || *candidate <= hw_) return;
  hw_ = std::min(*candidate, log_end_offset());
  log_->on_high_watermark(hw_.value());
  resume_commit_waiters(ErrorCode::NONE);
  notify_fetch_waiters();
}

void Partition::notify_fetch_waiters() {
  auto waiters = std::move(fetch_waiters_);
  fetch_waiters_.clear();
  for (auto& w : waiters)
    if (auto waiter = w.lock()) waiter->notify();
}

void Partition::resume_commit_waiters(ErrorCode error) {
  std::erase_if(commit_waiters_, [this, error](CommitWaiter& w) {
    if (!*w.resume) return true;  // timed out already
    if (error == ErrorCode::NONE && w.offset >= hw_) return false;
    auto resume = std::move(*w.resume);
    *w.resume = nullptr;
    resume(error);
    return true;
  });
}

asio::awaitable<ErrorCode> Partition::wait_acknowledged(Offset offset, int64_t timeout_ms) {
  if (!replicated_) co_return co_await wait_durable(offset) ? ErrorCode::NONE : ErrorCode::KAFKA_STORAGE_ERROR;
  if (offline_) co_return ErrorCode::KAFKA_STORAGE_ERROR;
  if (role_ != Role::Leader) co_return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  if (hw_ > offset) co_return ErrorCode::NONE;
  // Captures must stay trivially destructible (GCC PR 100611, see
  // server/shard.h): the timer is held by this frame, the lambda points to it.
  auto timer_holder = std::make_shared<asio::steady_timer>(shard_.io());
  asio::steady_timer* timer = timer_holder.get();
  auto result = co_await await_callback<ErrorCode>([this, offset, timeout_ms, timer](auto done) {
    auto resume = std::make_shared<std::function<void(ErrorCode)>>(std::move(done));
    commit_waiters_.push_back({offset, resume});
    timer->expires_after(std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)));
    timer->async_wait([this, alive = alive_, resume](const asio::error_code& ec) {
      if (ec || !*alive || !*resume) return;
      auto fn = std::move(*resume);
      *resume = nullptr;
      fn(check_min_insync() == ErrorCode::NONE ? ErrorCode::REQUEST_TIMED_OUT
                                               : ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    });
  });
  timer->cancel();
  co_return result;
}

storage::ReadResult Partition::read(Offset offset, uint64_t max_bytes, bool min_one, bool to_log_end,
                                    bool read_committed) const {
  if (offline_) return storage::ReadResult{ErrorCode::KAFKA_STORAGE_ERROR, {}, 0};
  if (offset < log_start_offset() || offset > log_end_offset())
    return storage::ReadResult{ErrorCode::OFFSET_OUT_OF_RANGE, {}, 0};
  Offset limit = to_log_end ? log_end_offset() : read_committed ? last_stable_offset() : high_watermark();
  return log_->read(offset.value(), max_bytes, min_one, limit.value(), /*bounded=*/true);
}

storage::BatchRead Partition::read_into_memory(Offset offset, uint64_t max_bytes) const {
  return storage::read_batches(*log_, offset.value(), max_bytes, /*min_one=*/true, log_->log_end_offset());
}

Offset Partition::delete_records_before(Offset offset) {
  const Offset before = log_start_offset();
  const Offset after(log_->delete_records_before(offset.value()));
  if (after != before) notify_fetch_waiters();  // a follower's session tells it
  return after;
}

void Partition::set_config(const storage::LogConfig& config) { log_->set_config(config); }

void Partition::enforce_retention(int64_t now_ms) {
  const Offset before = log_start_offset();
  log_->enforce_retention(now_ms, high_watermark().value());
  if (log_start_offset() != before) notify_fetch_waiters();
}

std::optional<storage::CleanPlan> Partition::plan_cleaning(int64_t now_ms) {
  if (offline_) return std::nullopt;
  return log_->plan_cleaning(now_ms, last_stable_offset().value());
}

storage::LogCleaner::SwapOutcome Partition::swap_cleaned(const storage::CleanedGroup& group) {
  if (offline_) return storage::LogCleaner::SwapOutcome::Refused;
  auto outcome = log_->swap_cleaned(group);
  if (outcome == storage::LogCleaner::SwapOutcome::Failed)
    go_offline(std::string("a compaction swap failed: ") + std::strerror(errno));
  return outcome;
}

void Partition::cleaning_done(const storage::CleanPlan& plan, const storage::CleanResult& result) {
  if (plan.log_id != log_->id() || !result.ok) return;
  log_->cleaning_done(result.cleaned_through, result.next_horizon_ms);
}

asio::awaitable<bool> Partition::wait_durable(Offset offset) {
  if (durable_offset() > offset) co_return true;
  if (offline_) co_return false;
  co_return co_await await_callback<bool>([this, offset](auto done) { when_durable(offset, std::move(done)); });
}

void Partition::when_durable(Offset offset, std::function<void(bool)> done) {
  if (durable_offset() > offset) return done(true);
  if (offline_) return done(false);
  durable_waiters_.push_back({offset, std::move(done)});
  request_flush();
}

void Partition::request_flush(bool force, bool have_slot) {
  if (flush_in_flight_ || offline_ || (durable_waiters_.empty() && !force)) {
    if (have_slot) gate_->release();
    return;
  }
  if (gate_ && !have_slot && !gate_->try_acquire()) {
    if (!waiting_at_gate_) {
      waiting_at_gate_ = true;
      gate_->wait([this, alive = alive_, gate = gate_, &shard = shard_] {
        if (!*alive) return false;
        asio::post(shard.executor(), [this, alive, gate] {
          if (!*alive) {  // dropped meanwhile: the slot goes to the next
            gate->release();
            return;
          }
          waiting_at_gate_ = false;
          request_flush(/*force=*/true, /*have_slot=*/true);
        });
        return true;
      });
    }
    return;
  }
  flush_in_flight_ = true;
  auto alive = alive_;
  auto request = log_->sync_handles();
  int64_t sealed_below = request.sealed_below;
  flusher_.request(std::move(request), [this, alive, sealed_below, gate = gate_, &shard = shard_](int64_t durable) {
    asio::post(shard.executor(), [this, alive, durable, sealed_below, gate] {
      if (gate) gate->release();  // even for a partition dropped meanwhile
      if (*alive) on_flushed(durable, sealed_below);
    });
  });
}

void Partition::on_flushed(int64_t durable_offset, int64_t sealed_below) {
  flush_in_flight_ = false;
  if (durable_offset == storage::Flusher::kNotOpened) {
    // Out of descriptors for the moment: nothing is lost, try again shortly.
    flush_in_flight_ = true;
    auto timer = std::make_shared<asio::steady_timer>(shard_.io(), std::chrono::milliseconds(20));
    timer->async_wait([this, alive = alive_, timer](const asio::error_code&) {
      if (!*alive) return;
      flush_in_flight_ = false;
      request_flush(/*force=*/true);
    });
    return;
  }
  if (durable_offset < 0) {
    // fdatasync failed: what was written may not be on disk, and retrying
    // cannot tell (the kernel may have dropped the dirty pages). Fail every
    // waiter, as Kafka fails the log directory.
    go_offline("fdatasync failed (what was written may not be on disk)");
    return;
  }
  log_->mark_flushed(durable_offset, sealed_below);
  const int64_t now_ms = wall_clock_ms();
  last_flush_ms_ = now_ms;
  Offset flushed(log_->flushed_offset());
  // Waiters are not ordered by offset (requests interleave across hops), so check each.
  std::erase_if(durable_waiters_, [flushed](DurableWaiter& w) {
    if (w.offset >= flushed) return false;
    w.resume(true);
    return true;
  });
  advance_high_watermark();
  // In a cluster acks=all waits on the high watermark, not on durable
  // waiters: what was appended while this sync ran must be synced too, or the
  // high watermark would stall until the next append or the idle flush.
  request_flush(/*force=*/(replicated_ && log_->has_unsynced_data()) || flush_due(now_ms));
}

void Partition::add_fetch_waiter(std::weak_ptr<FetchWaiter> waiter) {
  // Drop waiters whose Fetch already finished, so an idle partition polled by a
  // consumer does not accumulate them; a waiter left here already (a fetch
  // session's, read again before anything woke it) is not added twice.
  bool present = false;
  std::erase_if(fetch_waiters_, [&waiter, &present](const auto& w) {
    if (w.expired()) return true;
    present = present || (!w.owner_before(waiter) && !waiter.owner_before(w));
    return false;
  });
  if (!present) fetch_waiters_.push_back(std::move(waiter));
}

namespace {

// The records of the batch that contains `offset` (empty if none can be read).
std::vector<protocol::Record> records_of_batch_at(const storage::PartitionLog& log, int64_t offset) {
  auto read = storage::read_batches(log, offset, 1, /*min_one=*/true, log.log_end_offset());
  if (read.slices.empty()) return {};
  try {
    return protocol::decode_record_batch(read.slices.front());
  } catch (const protocol::DecodeError& e) {
    spdlog::warn("cannot decode the batch at offset {}: {}", offset, e.what());
    return {};
  }
}

}  // namespace

std::pair<int64_t, int64_t> Partition::lookup_timestamp(int64_t ts) const {
  // The time index finds the first batch whose max timestamp is >= ts; the
  // record is inside it (or, with timestamps out of order, in a later batch).
  for (int64_t offset = log_->offset_for_timestamp(ts); offset >= 0 && offset < log_->log_end_offset();) {
    auto records = records_of_batch_at(*log_, offset);
    if (records.empty()) break;
    for (const auto& r : records)
      if (r.offset >= log_->log_start_offset() && r.timestamp >= ts) return {r.offset, r.timestamp};
    offset = records.back().offset + 1;
  }
  return {-1, -1};
}

std::pair<int64_t, int64_t> Partition::lookup_max_timestamp() const {
  auto [max_ts, batch_offset] = log_->max_timestamp_and_offset();
  if (batch_offset < 0) return {-1, -1};
  for (const auto& r : records_of_batch_at(*log_, batch_offset))
    if (r.timestamp == max_ts) return {r.offset, r.timestamp};
  return {batch_offset, max_ts};
}

void Partition::close() {
  resume_commit_waiters(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  log_->close();
  for (auto& w : durable_waiters_) w.resume(true);
  durable_waiters_.clear();
}

bool Partition::prepare_shutdown() {
  // An offline log gets no clean-shutdown marker: the next start recovers it
  // from what is really on disk.
  if (offline_) return false;
  return log_->prepare_shutdown();
}

void Partition::finish_shutdown(bool synced) {
  resume_commit_waiters(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  if (synced) log_->finish_shutdown();
  for (auto& w : durable_waiters_) w.resume(synced);
  durable_waiters_.clear();
}

void Partition::abandon() {
  for (auto& w : durable_waiters_) w.resume(false);
  durable_waiters_.clear();
  resume_commit_waiters(ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

int64_t Partition::flush_if_idle(int64_t now_ms, int64_t idle_ms) {
  const int64_t flush_ms = log_->config().flush_ms;
  if (!flush_in_flight_ && log_->has_unsynced_data() && (now_ms - last_append_ms_ >= idle_ms || flush_due(now_ms)))
    request_flush(/*force=*/true);
  return flush_ms;
}

bool Partition::flush_messages_due() const {
  return log_->log_end_offset() - log_->flushed_offset() >= log_->config().flush_messages;
}

bool Partition::flush_due(int64_t now_ms) const {
  if (offline_ || !log_->has_unsynced_data()) return false;
  const auto& config = log_->config();
  if (flush_messages_due()) return true;
  return config.flush_ms != std::numeric_limits<int64_t>::max() && now_ms - last_flush_ms_ >= config.flush_ms;
}

const storage::ProducerStateTable& Partition::producer_state() const { return log_->producer_state(); }

}  // namespace runnel::cluster
