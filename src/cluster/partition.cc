#include "cluster/partition.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "protocol/reader.h"
#include "protocol/record_codec.h"

namespace runnel::cluster {

Partition::Partition(std::string topic, int32_t index, std::unique_ptr<storage::PartitionLog> log,
                     storage::Flusher& flusher, Shard& shard)
    : topic_(std::move(topic)), index_(index), log_(std::move(log)), flusher_(flusher), shard_(shard) {}

Partition::~Partition() { *alive_ = false; }

ErrorCode Partition::check_leader_epoch(int32_t current_leader_epoch) const {
  if (current_leader_epoch == kUndefinedEpoch.value()) return ErrorCode::NONE;
  if (LeaderEpoch(current_leader_epoch) > leader_epoch()) return ErrorCode::UNKNOWN_LEADER_EPOCH;
  if (LeaderEpoch(current_leader_epoch) < leader_epoch()) return ErrorCode::FENCED_LEADER_EPOCH;
  return ErrorCode::NONE;
}

storage::EpochEndOffset Partition::end_offset_for_epoch(LeaderEpoch epoch) const {
  Offset end(log_->log_end_offset());
  storage::EpochList epochs(log_->epoch_entries());
  epochs.assign(leader_epoch(), end);
  return epochs.end_offset_for(epoch, end);
}

storage::AppendResult Partition::append(std::span<uint8_t> batches, int64_t now_ms) {
  auto result = log_->append(batches, leader_epoch().value(), now_ms);
  if (result.error == ErrorCode::KAFKA_STORAGE_ERROR)
    spdlog::error("{}-{}: append failed: {}", topic_, index_, std::strerror(errno));
  if (result.error == ErrorCode::NONE) {
    last_append_ms_ = now_ms;
    auto waiters = std::move(fetch_waiters_);
    fetch_waiters_.clear();
    for (auto& w : waiters)
      if (auto waiter = w.lock()) waiter->notify();
  }
  return result;
}

storage::ReadResult Partition::read(int64_t offset, uint64_t max_bytes, bool min_one) const {
  int64_t hwm = high_watermark();
  if (offset < log_start_offset() || offset > hwm) return storage::ReadResult{ErrorCode::OFFSET_OUT_OF_RANGE, {}, 0};
  return log_->read(offset, max_bytes, min_one, hwm);
}

storage::BatchRead Partition::read_into_memory(int64_t offset, uint64_t max_bytes) const {
  return storage::read_batches(*log_, offset, max_bytes, /*min_one=*/true, log_->log_end_offset());
}

int64_t Partition::delete_records_before(int64_t offset) { return log_->delete_records_before(offset); }

void Partition::set_config(const storage::LogConfig& config) { log_->set_config(config); }

void Partition::enforce_retention(int64_t now_ms) { log_->enforce_retention(now_ms); }

asio::awaitable<bool> Partition::wait_durable(int64_t offset) {
  if (log_->flushed_offset() > offset) co_return true;
  co_return co_await await_callback<bool>([this, offset](auto done) {
    durable_waiters_.push_back({offset, std::move(done)});
    request_flush();
  });
}

void Partition::request_flush(bool force) {
  if (flush_in_flight_ || (durable_waiters_.empty() && !force)) return;
  flush_in_flight_ = true;
  auto alive = alive_;
  auto request = log_->sync_handles();
  int64_t sealed_below = request.sealed_below;
  flusher_.request(std::move(request), [this, alive, sealed_below, &shard = shard_](int64_t durable) {
    asio::post(shard.executor(), [this, alive, durable, sealed_below] {
      if (*alive) on_flushed(durable, sealed_below);
    });
  });
}

void Partition::on_flushed(int64_t durable_offset, int64_t sealed_below) {
  flush_in_flight_ = false;
  if (durable_offset < 0) {
    // fdatasync failed: what was written may not be on disk, and retrying
    // cannot tell (the kernel may have dropped the dirty pages). Fail every
    // waiter, as Kafka fails the log directory.
    spdlog::error("{}-{}: fdatasync failed; failing {} acks=all waiters", topic_, index_, durable_waiters_.size());
    for (auto& w : durable_waiters_) w.resume(false);
    durable_waiters_.clear();
    return;
  }
  log_->mark_flushed(durable_offset, sealed_below);
  int64_t flushed = log_->flushed_offset();
  // Waiters are not ordered by offset (requests interleave across hops), so check each.
  std::erase_if(durable_waiters_, [flushed](DurableWaiter& w) {
    if (w.offset >= flushed) return false;
    w.resume(true);
    return true;
  });
  request_flush();
}

void Partition::add_fetch_waiter(std::weak_ptr<FetchWaiter> waiter) {
  // Drop waiters whose Fetch already finished, so an idle partition polled by a
  // consumer does not accumulate them.
  std::erase_if(fetch_waiters_, [](const auto& w) { return w.expired(); });
  fetch_waiters_.push_back(std::move(waiter));
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
  log_->close();
  for (auto& w : durable_waiters_) w.resume(true);
  durable_waiters_.clear();
}

bool Partition::prepare_shutdown() { return log_->prepare_shutdown(); }

void Partition::finish_shutdown(bool synced) {
  if (synced) log_->finish_shutdown();
  for (auto& w : durable_waiters_) w.resume(synced);
  durable_waiters_.clear();
}

void Partition::abandon() {
  for (auto& w : durable_waiters_) w.resume(false);
  durable_waiters_.clear();
}

void Partition::flush_if_idle(int64_t now_ms, int64_t idle_ms) {
  if (flush_in_flight_ || now_ms - last_append_ms_ < idle_ms || !log_->has_unsynced_data()) return;
  request_flush(/*force=*/true);
}

}  // namespace runnel::cluster
