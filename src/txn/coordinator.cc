#include "txn/coordinator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "base/endian.h"
#include "cluster/batch_replay.h"
#include "group/coordinator.h"
#include "protocol/reader.h"
#include "protocol/record_codec.h"

namespace runnel::txn {
namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(200);
// How long AddPartitionsToTxn / AddOffsetsToTxn / EndTxn wait for the
// previous transition of their id to finish before answering
// CONCURRENT_TRANSACTIONS (markers normally take a sync or two).
constexpr int64_t kSettleWaitMs = 1000;
constexpr int16_t kNoEpoch = -1;
// How long a transaction's markers may keep failing before complete() warns (and between warnings).
constexpr int64_t kMarkerWarnMs = 10000;

// TransactionMetadata.isEpochExhausted: the epoch is about to overflow.
bool epoch_exhausted(int16_t epoch) { return epoch >= INT16_MAX - 1; }

bool is_complete(TxnState s) { return s == TxnState::CompleteCommit || s == TxnState::CompleteAbort; }

bool completed_or_empty(TxnState s) { return s == TxnState::Empty || is_complete(s); }

// A transaction's record in __transaction_state (TransactionLog's value).
TxnLogValue log_value(const TxnMetadata& md) {
  TxnLogValue v;
  v.producer_id = md.producer_id;
  v.producer_epoch = md.producer_epoch;
  v.transaction_timeout_ms = md.timeout_ms;
  v.state = md.state;
  v.partitions = md.partitions;
  v.last_update_timestamp_ms = md.last_update_ms;
  v.start_timestamp_ms = md.start_ms;
  return v;
}

asio::awaitable<void> sleep_ms(int64_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

int32_t state_partition_for(const std::string& transactional_id, int32_t partitions) {
  return group::offsets_partition_for(transactional_id, partitions);
}

Coordinator::Coordinator(asio::io_context& io, CoordinatorConfig config, CoordinatorHooks hooks)
    : io_(io), config_(config), hooks_(std::move(hooks)), tick_timer_(io) {}

void Coordinator::start() { schedule_tick(); }

void Coordinator::stop() {
  stopped_ = true;
  tick_timer_.cancel();
  notify_settled(nullptr);
}

asio::awaitable<void> Coordinator::await_settled(const std::string& transactional_id, int64_t max_wait_ms, bool chain) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_wait_ms);
  asio::steady_timer timer(io_);
  while (!stopped_ && std::chrono::steady_clock::now() < deadline) {
    const auto* md = find(transactional_id);
    if (!md || (!md->pending && md->state != TxnState::PrepareCommit && md->state != TxnState::PrepareAbort)) co_return;
    if (chain && chainable_completion(transactional_id)) co_return;
    timer.expires_at(deadline);
    auto entry = settle_waiters_.emplace(transactional_id, &timer);
    std::error_code ec;  // operation_aborted when woken
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    settle_waiters_.erase(entry);
  }
}

void Coordinator::notify_settled(const std::string* transactional_id) {
  if (!transactional_id) {
    for (auto& [id, timer] : settle_waiters_) timer->cancel();
    return;
  }
  auto [from, to] = settle_waiters_.equal_range(*transactional_id);
  for (auto it = from; it != to; ++it) it->second->cancel();
}

void Coordinator::schedule_tick() {
  if (stopped_) return;
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    tick();
    schedule_tick();
  });
}

void Coordinator::maybe_compact() {
  std::map<int32_t, std::pair<int64_t, bool>> live;  // partition -> ids, any transition being written
  for (const auto& [id, md] : txns_) {
    auto& [count, pending] = live[state_partition_for(id, config_.state_partitions)];
    ++count;
    pending = pending || md.pending;
  }
  for (auto& [p, loaded] : loaded_) {
    auto [count, pending] = live[p];
    if (loaded.compacting || pending || loaded.records - count < std::max(count, config_.compaction_min_records))
      continue;
    loaded.compacting = true;
    asio::co_spawn(io_, compact(p, loaded.generation), asio::detached);
  }
}

asio::awaitable<void> Coordinator::compact(int32_t p, uint64_t generation) {
  auto* partition = hooks_.state_partition(p);
  auto it = loaded_.find(p);
  if (!partition || it == loaded_.end() || it->second.generation != generation) co_return;
  // Built and appended without suspending: no transition slips in between.
  int64_t first = partition->log_end_offset().value();
  std::vector<protocol::Record> records;
  for (const auto& [id, md] : txns_) {
    if (state_partition_for(id, config_.state_partitions) != p) continue;
    protocol::Record r;
    r.key = encode_txn_key(id);
    r.value = encode_txn_value(log_value(md));
    records.push_back(std::move(r));
  }
  int64_t before = it->second.records;
  bool ok = true;
  int64_t last = -1;
  // Batches of at most ~256 KiB, each within any message size limit.
  constexpr size_t kSnapshotBatchBytes = 256 * 1024;
  for (size_t from = 0; from < records.size() && ok;) {
    size_t to = from, bytes = 0;
    while (to < records.size() && (to == from || bytes < kSnapshotBatchBytes)) {
      bytes += records[to].key->size() + records[to].value->size() + 32;
      ++to;
    }
    std::vector<protocol::Record> chunk(records.begin() + static_cast<ptrdiff_t>(from),
                                        records.begin() + static_cast<ptrdiff_t>(to));
    auto batch = protocol::build_record_batch(chunk, wall_clock_ms());
    auto result = partition->append(batch, wall_clock_ms());
    ok = result.error == ErrorCode::NONE;
    last = result.last_offset;
    from = to;
  }
  if (ok && last >= 0)
    ok = co_await partition->wait_acknowledged(Offset(last), config_.write_timeout_ms) == ErrorCode::NONE;
  it = loaded_.find(p);
  if (it == loaded_.end() || it->second.generation != generation) co_return;
  it->second.compacting = false;
  partition = hooks_.state_partition(p);
  if (!ok || !partition) co_return;
  int64_t start = partition->delete_records_before(Offset(first)).value();
  // What was appended meanwhile stays counted; the superseded records are gone.
  it->second.records = it->second.records - before + static_cast<int64_t>(records.size());
  spdlog::info("compacted {}-{}: {} transactional ids kept, {} superseded records dropped, log start {}",
               kTransactionStateTopic, p, records.size(), before - static_cast<int64_t>(records.size()), start);
}

void Coordinator::tick() {
  int64_t now = wall_clock_ms();
  if (now - last_abort_check_ms_ < config_.abort_interval_ms) return;
  last_abort_check_ms_ = now;
  maybe_compact();
  for (auto& [id, md] : txns_) {
    auto generation = generation_of(id);
    if (!generation || md.pending) continue;
    if (md.state == TxnState::Ongoing && md.start_ms >= 0 && md.start_ms + md.timeout_ms < now) {
      // Kafka's abortTimedOutTransactions: the producer is fenced (its epoch
      // bumped) and its transaction rolled back.
      spdlog::info("transaction of {} (producer {} epoch {}) timed out after {} ms: aborting it", id, md.producer_id,
                   md.producer_epoch, md.timeout_ms);
      asio::co_spawn(
          io_,
          [this, id = id, g = *generation]() -> asio::awaitable<void> {
            auto error = co_await fence_and_abort(id, g);
            if (error != ErrorCode::NONE)
              spdlog::warn("aborting the timed-out transaction of {} failed: {}", id, error_name(error));
          },
          asio::detached);
    } else if (completed_or_empty(md.state) && md.last_update_ms + config_.id_expiration_ms < now) {
      asio::co_spawn(
          io_,
          [this, id = id, g = *generation]() -> asio::awaitable<void> {
            auto* md = find_mutable(id);
            if (!md || md->pending) co_return;
            md->pending = true;
            TxnMetadata copy = *md;
            auto error = co_await write(copy, g, /*tombstone=*/true);
            md = find_mutable(id);
            if (!md || !still_loaded(id, g)) co_return;
            md->pending = false;
            if (error == ErrorCode::NONE) {
              spdlog::info("transactional id {} expired", id);
              txns_.erase(id);
            }
          },
          asio::detached);
    }
  }
}

TxnMetadata* Coordinator::find_mutable(const std::string& transactional_id) {
  auto it = txns_.find(transactional_id);
  return it == txns_.end() ? nullptr : &it->second;
}

const TxnMetadata* Coordinator::find(const std::string& transactional_id) const {
  auto it = txns_.find(transactional_id);
  return it == txns_.end() ? nullptr : &it->second;
}

std::vector<TxnMetadata> Coordinator::list() const {
  std::vector<TxnMetadata> out;
  for (const auto& [_, md] : txns_) out.push_back(md);
  return out;
}

std::optional<uint64_t> Coordinator::generation_of(const std::string& transactional_id) const {
  auto it = loaded_.find(state_partition_for(transactional_id, config_.state_partitions));
  if (it == loaded_.end()) return std::nullopt;
  return it->second.generation;
}

bool Coordinator::still_loaded(const std::string& transactional_id, uint64_t generation) const {
  auto g = generation_of(transactional_id);
  return g && *g == generation && !stopped_;
}

ErrorCode Coordinator::coordinator_error(const std::string& transactional_id) const {
  return generation_of(transactional_id) ? ErrorCode::NONE : ErrorCode::NOT_COORDINATOR;
}

void Coordinator::unload(int32_t partition) {
  if (!loaded_.erase(partition)) return;
  notify_settled(nullptr);  // its waiters find their ids gone
  size_t dropped = std::erase_if(txns_, [this, partition](const auto& entry) {
    return state_partition_for(entry.first, config_.state_partitions) == partition;
  });
  if (dropped)
    spdlog::info("{}-{}: no longer its leader; unloaded {} transactional ids", kTransactionStateTopic, partition,
                 dropped);
}

void Coordinator::load(int32_t partition_index) {
  auto* partition = hooks_.state_partition(partition_index);
  if (!partition) return;
  unload(partition_index);
  // Replays the partition: the last record of each id wins, a tombstone removes it.
  std::map<std::string, TxnMetadata> found;
  size_t records = 0;
  cluster::replay_batches(*partition, [&](std::span<const uint8_t> batch) {
    try {
      for (auto& rec : protocol::decode_record_batch(batch)) {
        if (!rec.key) continue;
        auto id = decode_txn_key(*rec.key);
        if (!id) continue;
        ++records;
        if (!rec.value) {
          found.erase(*id);
          continue;
        }
        auto v = decode_txn_value(*rec.value);
        auto& md = found[*id];
        md.transactional_id = *id;
        md.producer_id = v.producer_id;
        md.producer_epoch = v.producer_epoch;
        md.timeout_ms = v.transaction_timeout_ms;
        md.state = v.state;
        md.partitions = std::move(v.partitions);
        md.start_ms = v.start_timestamp_ms;
        md.last_update_ms = v.last_update_timestamp_ms;
      }
    } catch (const protocol::DecodeError& e) {
      spdlog::warn("{}-{}: skipping a malformed record batch: {}", kTransactionStateTopic, partition_index, e.what());
    }
  });
  uint64_t generation = next_generation_++;
  loaded_[partition_index] =
      Loaded{generation, partition->leader_epoch().value(), static_cast<int64_t>(records), false};
  std::vector<std::string> to_complete;
  for (auto& [id, md] : found) {
    if (md.state == TxnState::PrepareCommit || md.state == TxnState::PrepareAbort) to_complete.push_back(id);
    txns_[id] = std::move(md);
  }
  if (records)
    spdlog::info("loaded {} transactional ids ({} records) from {}-{}, {} to complete", found.size(), records,
                 kTransactionStateTopic, partition_index, to_complete.size());
  for (auto& id : to_complete) asio::co_spawn(io_, complete(id, generation), asio::detached);
}

Coordinator::Appended Coordinator::append(const TxnMetadata& next, uint64_t generation, bool tombstone) {
  int32_t p = state_partition_for(next.transactional_id, config_.state_partitions);
  auto* partition = hooks_.state_partition(p);
  if (!partition || !still_loaded(next.transactional_id, generation)) return {ErrorCode::NOT_COORDINATOR, -1};
  protocol::Record r;
  r.key = encode_txn_key(next.transactional_id);
  if (!tombstone) r.value = encode_txn_value(log_value(next));
  auto batch = protocol::build_record_batch({r}, wall_clock_ms());
  auto result = partition->append(batch, wall_clock_ms());
  if (result.error != ErrorCode::NONE) {
    spdlog::warn("writing to {}-{} failed: {}", kTransactionStateTopic, p, error_name(result.error));
    // Kafka's TransactionStateManager maps append errors this way.
    return {result.error == ErrorCode::NOT_LEADER_OR_FOLLOWER ? ErrorCode::NOT_COORDINATOR
                                                              : ErrorCode::COORDINATOR_NOT_AVAILABLE,
            -1};
  }
  if (auto it = loaded_.find(p); it != loaded_.end()) ++it->second.records;
  return {ErrorCode::NONE, result.last_offset};
}

asio::awaitable<ErrorCode> Coordinator::acknowledged(const std::string& transactional_id, int64_t offset,
                                                     uint64_t generation) {
  auto* partition = hooks_.state_partition(state_partition_for(transactional_id, config_.state_partitions));
  if (!partition || !still_loaded(transactional_id, generation)) co_return ErrorCode::NOT_COORDINATOR;
  auto error = co_await partition->wait_acknowledged(Offset(offset), config_.write_timeout_ms);
  if (!still_loaded(transactional_id, generation)) co_return ErrorCode::NOT_COORDINATOR;
  if (error == ErrorCode::NONE) co_return ErrorCode::NONE;
  co_return error == ErrorCode::NOT_LEADER_OR_FOLLOWER ? ErrorCode::NOT_COORDINATOR
                                                       : ErrorCode::COORDINATOR_NOT_AVAILABLE;
}

asio::awaitable<ErrorCode> Coordinator::write(const TxnMetadata& next, uint64_t generation, bool tombstone) {
  auto appended = append(next, generation, tombstone);
  if (appended.error != ErrorCode::NONE) co_return appended.error;
  co_return co_await acknowledged(next.transactional_id, appended.offset, generation);
}

asio::awaitable<ErrorCode> Coordinator::transit(const TxnMetadata& next_ref, uint64_t generation) {
  TxnMetadata next = next_ref;  // the caller's may change while this waits
  const std::string id = next.transactional_id;
  if (auto* md = find_mutable(id)) md->pending = true;
  next.pending = false;
  auto& flight = in_flight_[id];
  const uint64_t seq = ++flight.appended;
  ++flight.count;
  flight.newest = next;
  auto appended = append(next, generation);
  auto error = appended.error;
  if (error == ErrorCode::NONE) {
    // A Complete* may have the id's next transition appended right behind
    // it (chainable_completion). When an add_partitions() waits for it, it
    // is woken and runs first (the shard's queue is FIFO), so that its
    // Ongoing is appended before the sync both are acknowledged by is
    // requested: one sync for the two, not two in a row.
    if (is_complete(next.state) && settle_waiters_.count(id)) {
      notify_settled(&id);
      co_await asio::post(io_, asio::use_awaitable);
    }
    error = co_await acknowledged(id, appended.offset, generation);
  }
  // Looked up again: the partition may have been unloaded (and even loaded
  // again) while the record was written.
  bool newest = false, more = false;
  if (auto it = in_flight_.find(id); it != in_flight_.end()) {
    newest = error == ErrorCode::NONE && seq > it->second.applied;
    if (newest) it->second.applied = seq;
    more = --it->second.count > 0;
    if (!more) in_flight_.erase(it);
  }
  // Whatever the outcome, the id's transition is over (or it is unloaded).
  notify_settled(&id);
  auto* md = find_mutable(id);
  if (!still_loaded(id, generation)) co_return ErrorCode::NOT_COORDINATOR;
  if (error != ErrorCode::NONE) {
    if (md && !more) md->pending = false;
    co_return error;
  }
  // A later transition acknowledged first (its acknowledgement covers this
  // one, which it was built on) is not overwritten by this older one.
  if (newest) {
    next.pending = more;
    txns_[id] = std::move(next);
  } else if (md) {
    md->pending = more;
  }
  co_return ErrorCode::NONE;
}

const TxnMetadata* Coordinator::chainable_completion(const std::string& transactional_id) const {
  auto it = in_flight_.find(transactional_id);
  if (it == in_flight_.end() || it->second.count != 1 || !is_complete(it->second.newest.state)) return nullptr;
  return &it->second.newest;
}

asio::awaitable<InitProducerIdResult> Coordinator::init_producer_id(const std::string& transactional_id,
                                                                    int32_t timeout_ms, int64_t expected_producer_id,
                                                                    int16_t expected_epoch) {
  InitProducerIdResult result;
  auto generation = generation_of(transactional_id);
  if (!generation) {
    result.error = ErrorCode::NOT_COORDINATOR;
    co_return result;
  }
  if (timeout_ms <= 0 || timeout_ms > config_.max_timeout_ms) {
    result.error = ErrorCode::INVALID_TRANSACTION_TIMEOUT;
    co_return result;
  }
  if (!find(transactional_id)) {
    auto id = co_await hooks_.next_producer_id();
    if (!still_loaded(transactional_id, *generation)) {
      result.error = ErrorCode::NOT_COORDINATOR;
      co_return result;
    }
    if (!id) {
      result.error = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
      co_return result;
    }
    if (!find(transactional_id)) {  // still not there: another request may have made it meanwhile
      TxnMetadata md;
      md.transactional_id = transactional_id;
      md.producer_id = *id;
      md.producer_epoch = kNoEpoch;
      md.timeout_ms = timeout_ms;
      md.last_update_ms = wall_clock_ms();
      txns_[transactional_id] = md;
    }
  }
  auto* md = find_mutable(transactional_id);
  bool expected = expected_producer_id >= 0;
  if (md->pending) {
    result.error = ErrorCode::CONCURRENT_TRANSACTIONS;
    co_return result;
  }
  // KIP-360: a producer that names its id and epoch is fenced unless the id
  // is new, is the current one, or is the previous one whose epoch ran out
  // (a retry of the request that rotated it).
  if (expected && !(md->producer_epoch == kNoEpoch || expected_producer_id == md->producer_id ||
                    (expected_producer_id == md->last_producer_id && epoch_exhausted(expected_epoch)))) {
    result.error = ErrorCode::PRODUCER_FENCED;
    co_return result;
  }
  switch (md->state) {
    case TxnState::PrepareCommit:
    case TxnState::PrepareAbort:
      result.error = ErrorCode::CONCURRENT_TRANSACTIONS;
      co_return result;
    case TxnState::Ongoing: {
      // The previous instance left a transaction open: it is aborted (with
      // the epoch bumped, so the old instance is fenced) and the client told
      // to retry once that is done.
      auto error = co_await fence_and_abort(transactional_id, *generation);
      result.error = error == ErrorCode::NONE ? ErrorCode::CONCURRENT_TRANSACTIONS : error;
      co_return result;
    }
    case TxnState::Dead:
    case TxnState::PrepareEpochFence:
      result.error = ErrorCode::CONCURRENT_TRANSACTIONS;
      co_return result;
    default:
      break;
  }
  TxnMetadata next = *md;
  int64_t now = wall_clock_ms();
  if (epoch_exhausted(md->producer_epoch) && (!expected || expected_epoch == md->producer_epoch)) {
    // prepareProducerIdRotation: a new id, epoch 0.
    auto id = co_await hooks_.next_producer_id();
    md = find_mutable(transactional_id);
    if (!still_loaded(transactional_id, *generation) || !md) {
      result.error = ErrorCode::NOT_COORDINATOR;
      co_return result;
    }
    if (!id) {
      result.error = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
      co_return result;
    }
    if (md->pending) {
      result.error = ErrorCode::CONCURRENT_TRANSACTIONS;
      co_return result;
    }
    next = *md;
    next.last_producer_id = md->producer_id;
    next.last_producer_epoch = expected ? md->producer_epoch : kNoEpoch;
    next.producer_id = *id;
    next.producer_epoch = 0;
  } else if (!expected || md->producer_epoch == kNoEpoch || expected_epoch == md->producer_epoch) {
    // prepareIncrementProducerEpoch.
    next.last_producer_epoch = expected ? md->producer_epoch : kNoEpoch;
    next.producer_epoch = static_cast<int16_t>(md->producer_epoch + 1);
  } else if (expected_epoch == md->last_producer_epoch) {
    // A retry of the bump that produced the current epoch: answered the same.
  } else {
    result.error = ErrorCode::PRODUCER_FENCED;
    co_return result;
  }
  next.state = TxnState::Empty;
  next.timeout_ms = timeout_ms;
  next.partitions.clear();
  next.start_ms = -1;
  next.last_update_ms = now;
  int64_t producer_id = next.producer_id;
  int16_t epoch = next.producer_epoch;
  auto error = co_await transit(next, *generation);
  if (error != ErrorCode::NONE) {
    result.error = error;
    co_return result;
  }
  result.producer_id = producer_id;
  result.producer_epoch = epoch;
  co_return result;
}

asio::awaitable<ErrorCode> Coordinator::fence_and_abort(const std::string& transactional_id, uint64_t generation) {
  auto* md = find_mutable(transactional_id);
  if (!md || !still_loaded(transactional_id, generation)) co_return ErrorCode::NOT_COORDINATOR;
  if (md->pending) co_return ErrorCode::CONCURRENT_TRANSACTIONS;
  if (md->state != TxnState::Ongoing) co_return ErrorCode::NONE;
  TxnMetadata next = *md;
  // prepareFenceProducerEpoch: an exhausted epoch stays (the markers still
  // fence the producer, which must get a new id).
  if (!epoch_exhausted(md->producer_epoch)) next.producer_epoch = static_cast<int16_t>(md->producer_epoch + 1);
  next.last_producer_epoch = kNoEpoch;
  next.state = TxnState::PrepareAbort;
  next.last_update_ms = wall_clock_ms();
  auto error = co_await transit(next, generation);
  if (error == ErrorCode::NONE) asio::co_spawn(io_, complete(transactional_id, generation), asio::detached);
  co_return error;
}

asio::awaitable<ErrorCode> Coordinator::add_partitions(const std::string& transactional_id, int64_t producer_id,
                                                       int16_t producer_epoch,
                                                       const std::vector<TopicPartition>& partitions) {
  co_await await_settled(transactional_id, kSettleWaitMs, /*chain=*/true);
  auto generation = generation_of(transactional_id);
  if (!generation) co_return ErrorCode::NOT_COORDINATOR;
  const TxnMetadata* md = find(transactional_id);
  // The previous transaction's Complete* appended and on its way to disk:
  // this transition is appended behind it in the same log, and its
  // acknowledgement covers both (one sync instead of two in a row).
  if (const auto* completing = md ? chainable_completion(transactional_id) : nullptr) md = completing;
  if (!md || md->producer_id != producer_id) co_return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
  if (md->producer_epoch != producer_epoch) co_return ErrorCode::PRODUCER_FENCED;
  if (md->pending) co_return ErrorCode::CONCURRENT_TRANSACTIONS;
  if (md->state == TxnState::PrepareCommit || md->state == TxnState::PrepareAbort)
    co_return ErrorCode::CONCURRENT_TRANSACTIONS;
  if (md->state == TxnState::Dead || md->state == TxnState::PrepareEpochFence) co_return ErrorCode::INVALID_TXN_STATE;
  bool all_in = md->state == TxnState::Ongoing;
  for (const auto& tp : partitions) {
    auto it = md->partitions.find(tp.topic);
    if (it == md->partitions.end() || !it->second.count(tp.partition)) all_in = false;
  }
  if (all_in) co_return ErrorCode::NONE;
  TxnMetadata next = *md;
  int64_t now = wall_clock_ms();
  if (md->state != TxnState::Ongoing) {
    next.start_ms = now;
    next.partitions.clear();
  }
  for (const auto& tp : partitions) next.partitions[tp.topic].insert(tp.partition);
  next.state = TxnState::Ongoing;
  next.last_update_ms = now;
  co_return co_await transit(next, *generation);
}

std::vector<ErrorCode> Coordinator::verify_partitions(const std::string& transactional_id, int64_t producer_id,
                                                      int16_t producer_epoch,
                                                      const std::vector<TopicPartition>& partitions) const {
  auto all = [&partitions](ErrorCode e) { return std::vector<ErrorCode>(partitions.size(), e); };
  if (transactional_id.empty()) return all(ErrorCode::INVALID_REQUEST);
  if (!generation_of(transactional_id)) return all(ErrorCode::NOT_COORDINATOR);
  const TxnMetadata* md = find(transactional_id);
  if (!md || md->producer_id != producer_id) return all(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  if (md->producer_epoch != producer_epoch) return all(ErrorCode::PRODUCER_FENCED);
  if (md->state == TxnState::PrepareCommit || md->state == TxnState::PrepareAbort)
    return all(ErrorCode::CONCURRENT_TRANSACTIONS);
  // A partition is in the transaction from the durable AddPartitionsToTxn
  // that added it until Complete* (which empties the set): a pending
  // transition is not looked at, the partition's own guard covers the rest.
  std::vector<ErrorCode> out;
  out.reserve(partitions.size());
  for (const auto& tp : partitions) {
    auto it = md->partitions.find(tp.topic);
    const bool in = it != md->partitions.end() && it->second.count(tp.partition);
    out.push_back(in ? ErrorCode::NONE : ErrorCode::TRANSACTION_ABORTABLE);
  }
  return out;
}

asio::awaitable<ErrorCode> Coordinator::end_txn(const std::string& transactional_id, int64_t producer_id,
                                                int16_t producer_epoch, bool commit) {
  co_await await_settled(transactional_id, kSettleWaitMs);
  auto generation = generation_of(transactional_id);
  if (!generation) co_return ErrorCode::NOT_COORDINATOR;
  auto* md = find_mutable(transactional_id);
  if (!md || md->producer_id != producer_id) co_return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
  if (md->producer_epoch != producer_epoch) co_return ErrorCode::PRODUCER_FENCED;
  if (md->pending) co_return ErrorCode::CONCURRENT_TRANSACTIONS;
  switch (md->state) {
    case TxnState::Ongoing:
      break;
    case TxnState::CompleteCommit:
      co_return commit ? ErrorCode::NONE : ErrorCode::INVALID_TXN_STATE;  // a retry of the commit
    case TxnState::CompleteAbort:
      co_return commit ? ErrorCode::INVALID_TXN_STATE : ErrorCode::NONE;
    case TxnState::PrepareCommit:
      co_return commit ? ErrorCode::CONCURRENT_TRANSACTIONS : ErrorCode::INVALID_TXN_STATE;
    case TxnState::PrepareAbort:
      co_return commit ? ErrorCode::INVALID_TXN_STATE : ErrorCode::CONCURRENT_TRANSACTIONS;
    default:  // Empty, Dead, PrepareEpochFence
      co_return ErrorCode::INVALID_TXN_STATE;
  }
  TxnMetadata next = *md;
  next.state = commit ? TxnState::PrepareCommit : TxnState::PrepareAbort;
  next.last_update_ms = wall_clock_ms();
  auto error = co_await transit(next, *generation);
  if (error == ErrorCode::NONE) asio::co_spawn(io_, complete(transactional_id, *generation), asio::detached);
  co_return error;
}

asio::awaitable<void> Coordinator::complete(std::string transactional_id, uint64_t generation) {
  auto* md = find_mutable(transactional_id);
  if (!md || !still_loaded(transactional_id, generation)) co_return;
  if (md->state != TxnState::PrepareCommit && md->state != TxnState::PrepareAbort) co_return;
  MarkerRequest request;
  request.producer_id = md->producer_id;
  request.producer_epoch = md->producer_epoch;
  request.commit = md->state == TxnState::PrepareCommit;
  request.coordinator_epoch =
      loaded_[state_partition_for(transactional_id, config_.state_partitions)].coordinator_epoch;
  for (const auto& [topic, ids] : md->partitions)
    for (int32_t p : ids) request.partitions.push_back({topic, p});
  // Every marker, retried until written; a partition that no longer exists
  // is skipped (Kafka: the topic was deleted).
  int64_t backoff_ms = 20;
  // A transaction whose markers cannot be written stays in Prepare*: its
  // producer gets CONCURRENT_TRANSACTIONS and the partitions' last stable
  // offset stays put. Say so, once every kMarkerWarnMs, naming what fails.
  const int64_t started_ms = wall_clock_ms();
  int64_t next_warning_ms = started_ms + kMarkerWarnMs;
  while (!request.partitions.empty()) {
    auto errors = co_await hooks_.write_markers(request);
    if (!still_loaded(transactional_id, generation)) co_return;
    std::vector<TopicPartition> again;
    std::string failing;  // what is retried, for the warning
    for (size_t i = 0; i < request.partitions.size(); ++i) {
      auto error = i < errors.size() ? errors[i] : ErrorCode::UNKNOWN_SERVER_ERROR;
      if (error == ErrorCode::NONE || error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) continue;
      if (error == ErrorCode::TRANSACTION_COORDINATOR_FENCED) {
        spdlog::warn("{}: a newer coordinator took over; stopping its markers", transactional_id);
        co_return;
      }
      if (error == ErrorCode::INVALID_PRODUCER_EPOCH) {
        // The partition knows a newer epoch of this producer: the marker is moot there.
        spdlog::warn("{}: marker for {}-{} refused with INVALID_PRODUCER_EPOCH; skipped", transactional_id,
                     request.partitions[i].topic, request.partitions[i].partition);
        continue;
      }
      again.push_back(request.partitions[i]);
      failing += fmt::format("{}{}-{}: {}", failing.empty() ? "" : ", ", request.partitions[i].topic,
                             request.partitions[i].partition, error_name(error));
    }
    request.partitions = std::move(again);
    if (request.partitions.empty()) break;
    if (const int64_t now = wall_clock_ms(); now >= next_warning_ms) {
      next_warning_ms = now + kMarkerWarnMs;
      spdlog::warn("{}: the {} markers of producer {} epoch {} are not all written after {} s ({})", transactional_id,
                   request.commit ? "commit" : "abort", request.producer_id, request.producer_epoch,
                   (now - started_ms) / 1000, failing);
    }
    co_await sleep_ms(backoff_ms);
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    if (!still_loaded(transactional_id, generation)) co_return;
  }
  // Complete*, retried while the log refuses it.
  for (backoff_ms = 20;;) {
    md = find_mutable(transactional_id);
    if (!md || !still_loaded(transactional_id, generation)) co_return;
    // A Complete* whose acknowledgement failed may be covered by the next
    // transition's, appended behind it (add_partitions): then it is done.
    if (md->state != TxnState::PrepareCommit && md->state != TxnState::PrepareAbort) co_return;
    if (!md->pending) {
      TxnMetadata next = *md;
      next.state = request.commit ? TxnState::CompleteCommit : TxnState::CompleteAbort;
      next.partitions.clear();
      next.last_update_ms = wall_clock_ms();
      auto error = co_await transit(next, generation);
      if (error == ErrorCode::NONE || error == ErrorCode::NOT_COORDINATOR) co_return;
    }
    co_await sleep_ms(backoff_ms);
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
  }
}

}  // namespace runnel::txn
