// Fetch (key 1). Reads whole batches as file slices from each partition's
// owning shard (sent later with sendfile; one hop per shard for all of its
// partitions, then in the request's order what fits), and long-polls: while fewer than
// min_bytes are available it sleeps until an append wakes it or max_wait_ms
// runs out (the waiter is left on each partition as it is read, in the same
// hop). Follower replicas
// (replica_id set) fetch the same way, up to the log end rather than the high
// watermark, and report their progress (Partition::on_follower_fetch).
// isolation_level 1 (read_committed, KIP-98) reads only below the last stable
// offset and lists the aborted transactions overlapping what it returns.
// A follower may fetch in a session (KIP-227, kafka/fetch_session.h): then
// a round reads only the partitions it names or that may have news, and
// answers only those that have some.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/clock.h"
#include "kafka/authz.h"
#include "kafka/broker.h"
#include "kafka/fetch_partition_cache.h"
#include "kafka/fetch_session.h"
#include "kafka/handlers/fetch_versions.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"
#include "runtime/on_shards.h"
#include "security/session.h"

namespace runnel {
namespace {

using Response = protocol::FetchResponse;

struct PartitionRead {
  ErrorCode error = ErrorCode::NONE;
  std::vector<FileSlice> slices;
  uint64_t bytes = 0;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
  storage::EpochEndOffset diverging;         // set when the fetcher's last epoch ended below its offset
  std::vector<storage::AbortedTxn> aborted;  // read_committed only
  // A throttled follower's read (KIP-73): its bytes count against the
  // leader's rate once the response keeps them.
  bool throttled = false;
  int64_t throttle_now_ms = 0;
  // A follower's read that returned nothing though the log has more (its
  // throttle held it back): a fetch that waited would only be woken late.
  bool more_now = false;
  // A follower's read found nothing past its fetch offset (its session has
  // nothing more to tell it until a change wakes the partition's waiter).
  bool at_end = false;

  // What is left when the response has no room for the records.
  void drop_records() {
    slices.clear();
    bytes = 0;
    aborted.clear();
  }
};

constexpr int8_t kReadCommitted = 1;
constexpr auto kLeaderSide = cluster::replication::ReplicationThrottle::Side::kLeader;

// `replica_id` >= 0: a follower's fetch (reads up to the log end, and tells
// the leader how far the follower has come). `waiter` (may be null): left on
// the partition once it is read, so that an append after this read wakes a
// fetch that then waits (nothing can come between the two: no hop).
// `partition`: this shard's replica as Broker::serving() gives it (null: not
// served here).
PartitionRead read_partition(Broker& broker, cluster::Partition* partition,
                             const protocol::FetchRequest::FetchPartition& p, int32_t replica_id, uint64_t max_bytes,
                             bool min_one, bool read_committed, const std::shared_ptr<cluster::FetchWaiter>& waiter,
                             int64_t now_ms) {
  PartitionRead out;
  const int64_t offset = p.fetch_offset;
  if (!partition) {
    // The topic has the partition (checked before): it is served elsewhere.
    out.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    return out;
  }
  if (auto e = partition->check_leader_epoch(LeaderEpoch(p.current_leader_epoch)); e != ErrorCode::NONE) {
    out.error = e;
    return out;
  }
  out.high_watermark = partition->high_watermark().value();
  out.last_stable_offset = partition->last_stable_offset().value();
  out.log_start_offset = partition->log_start_offset().value();
  // Fetch v12+ (KIP-595): a fetcher that names the epoch of the last batch it
  // has learns here, instead of by OffsetForLeaderEpoch, that its log
  // diverged: the answer is that epoch's end, and no records. Checked before
  // the range, as Kafka does: a follower that took more of an old epoch than
  // the new leader has is past the leader's log end, and must learn where to
  // truncate rather than get OFFSET_OUT_OF_RANGE, forever.
  if (p.last_fetched_epoch >= 0) {
    auto end = partition->end_offset_for_epoch(LeaderEpoch(p.last_fetched_epoch));
    if (!end.undefined() && (end.epoch < LeaderEpoch(p.last_fetched_epoch) || end.end_offset < Offset(offset))) {
      out.diverging = end;
      return out;
    }
  }
  // Kafka: out of range only outside [log start, log end]; a consumer ahead
  // of the high watermark (a new leader's may start lower) just waits.
  if (offset < out.log_start_offset || Offset(offset) > partition->log_end_offset()) {
    out.error = ErrorCode::OFFSET_OUT_OF_RANGE;
    return out;
  }
  const bool follower = replica_id >= 0;
  // KIP-73, as Kafka's shouldLeaderThrottle: a throttled replica out of the
  // ISR gets no records while the leader is over its rate. Consumers and
  // unthrottled partitions never read the throttle's clock.
  if (follower) {
    partition->on_follower_fetch(NodeId(replica_id), Offset(offset), Offset(p.durable_offset), now_ms);
    out.high_watermark = partition->high_watermark().value();
    out.last_stable_offset = partition->last_stable_offset().value();
    const auto& isr = partition->isr();
    out.throttled = partition->leader_throttled() && std::find(isr.begin(), isr.end(), NodeId(replica_id)) == isr.end();
    if (out.throttled) {
      out.throttle_now_ms = monotonic_ns() / 1000000;
      if (broker.replication_throttle().exceeded(kLeaderSide, out.throttle_now_ms)) {
        out.more_now = partition->log_end_offset() > Offset(offset);
        if (waiter) partition->add_fetch_waiter(waiter);
        return out;
      }
    }
  }
  read_committed = read_committed && !follower;
  auto read = partition->read(Offset(offset), max_bytes, min_one, /*to_log_end=*/follower, read_committed);
  // Kafka's collectAbortedTransactions, up to the end of what is returned.
  if (read_committed && read.next_offset >= 0)
    out.aborted = partition->aborted_transactions(Offset(offset), Offset(read.next_offset));
  out.error = read.error;
  out.slices = std::move(read.slices);
  out.bytes = read.bytes;
  out.at_end = follower && Offset(offset) >= partition->log_end_offset();
  if (waiter && out.error == ErrorCode::NONE) partition->add_fetch_waiter(waiter);
  return out;
}

// The record bytes a topic's part of the response carries.
uint64_t record_bytes(const Response::FetchableTopicResponse& topic) {
  uint64_t bytes = 0;
  for (const auto& pr : topic.partitions)
    for (const auto& slice : pr.records.files) bytes += slice.length;
  return bytes;
}

// The session a request asks for (KIP-227), as Kafka's FetchManager picks
// it: epoch -1 is a full fetch without one (closing session_id if set),
// epoch 0 a full fetch that opens one (when `offer`), a later epoch an
// incremental fetch in an open session, which must carry the epoch that
// session expects.
struct SessionChoice {
  FetchSession* session = nullptr;
  bool incremental = false;
  ErrorCode error = ErrorCode::NONE;
};

SessionChoice choose_session(FetchSessions* sessions, const protocol::FetchRequest& request, bool offer) {
  if (!sessions || (request.session_id == 0 && request.session_epoch == protocol::kFinalFetchSessionEpoch)) return {};
  if (request.session_epoch == protocol::kFinalFetchSessionEpoch) {
    sessions->close(request.session_id);
    return {};
  }
  if (request.session_epoch == protocol::kInitialFetchSessionEpoch) {
    if (request.session_id != 0) sessions->close(request.session_id);
    return {offer ? sessions->create() : nullptr, false, ErrorCode::NONE};
  }
  FetchSession* session = sessions->find(request.session_id);
  if (session && !offer) {  // no longer allowed one (CLUSTER_ACTION revoked)
    sessions->close(request.session_id);
    session = nullptr;
  }
  if (!session) return {nullptr, false, ErrorCode::FETCH_SESSION_ID_NOT_FOUND};
  if (request.session_epoch != session->next_epoch()) return {nullptr, false, ErrorCode::INVALID_FETCH_SESSION_EPOCH};
  return {session, true, ErrorCode::NONE};
}

// How often a session reads every partition it holds: often enough that no
// follower falls out of an idle partition's ISR (replica.lag.time.max.ms).
int64_t sweep_interval_ms(const Broker& broker) {
  return std::clamp<int64_t>(broker.config().replica_lag_time_max_ms / 4, 50, 1000);
}

}  // namespace

asio::awaitable<protocol::FetchResponse> handle_fetch(RequestContext& ctx, protocol::FetchRequest& request) {
  Broker& broker = ctx.broker;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, request.max_wait_ms));
  uint64_t response_max = request.max_bytes > 0 ? static_cast<uint64_t>(request.max_bytes) : UINT64_MAX;
  // consumer_byte_rate (Kafka's quotas.fetch): a consumer with a quota gets
  // at most what the quota allows over ten windows in one response.
  auto& quotas = broker.client_quotas();
  const bool quota_applies = request.replica_id < 0 && ctx.session && quotas.enabled(ClientQuotaManager::Kind::kFetch);
  if (quota_applies) {
    if (auto most =
            quotas.max_in_window(ClientQuotaManager::Kind::kFetch, ctx.session->principal, ctx.client_id.value_or(""));
        most && static_cast<uint64_t>(*most) < response_max)
      response_max = static_cast<uint64_t>(*most);
  }
  const uint64_t min_bytes =
      std::min(request.min_bytes > 0 ? static_cast<uint64_t>(request.min_bytes) : uint64_t{0}, response_max);
  normalize_fetch_request(broker, request, ctx.api_version);  // topic ids, ReplicaState

  // ACLs, as Kafka's handleFetchRequest: a follower's fetch needs
  // CLUSTER_ACTION on the cluster, a consumer's READ on each topic; the
  // partitions of a topic refused fail with TOPIC_AUTHORIZATION_FAILED.
  const bool follower_denied =
      request.replica_id >= 0 && !authorized_cluster(ctx, security::AclOperation::ClusterAction);
  std::set<std::string> denied_topics;
  for (const auto& topic : request.topics)
    if (follower_denied ||
        (request.replica_id < 0 && !authorized_topic(ctx, security::AclOperation::Read, topic.topic)))
      denied_topics.insert(topic.topic);

  // A fetch session (KIP-227) is offered to followers only; a consumer is
  // answered session id 0, which tells it to send full fetch requests.
  const SessionChoice choice =
      ctx.api_version >= 7 ? choose_session(ctx.fetch_sessions, request, request.replica_id >= 0 && !follower_denied)
                           : SessionChoice{};
  if (choice.error != ErrorCode::NONE) {
    Response refused;
    refused.error_code = code(choice.error);
    co_return refused;
  }
  FetchSession* const session = choice.session;
  if (session) {
    // Named partitions are added or updated (and read this round), then
    // the forgotten ones leave, in Kafka's order.
    for (const auto& topic : request.topics)
      for (const auto& p : topic.partitions) session->name(topic.topic, topic.topic_id, p);
    for (const auto& topic : request.forgotten_topics_data) {
      const std::string name =
          ctx.api_version >= 13 ? broker.topics().name_of(topic.topic_id).value_or("") : topic.topic;
      for (int32_t p : topic.partitions) session->forget(name, p);
    }
    if (choice.incremental) session->advance_epoch();
    if (session->sweep_due(now_ms(), sweep_interval_ms(broker)))
      for (const auto& e : session->entries()) e->in_round = true;
  }

  // Whether this fetch may wait at all (a follower with a sync pending, or a
  // consumer's poll with max_wait 0, never does).
  const bool may_wait = min_bytes > 0 && request.max_wait_ms > 0;
  // The partitions this fetch answers: the request's, or in a session those
  // picked (named, woken, or not yet settled), in the session's order. A
  // partition picked stays picked while the fetch waits. Those that pass
  // the checks are read on their owner's shard.
  struct Pick {
    const std::string* topic;
    const protocol::Uuid* topic_id;
    const protocol::FetchRequest::FetchPartition* request;
    FetchSession::Entry* entry;  // in a session
    Shard* owner = nullptr;      // null: answered with an error, not read
    size_t topic_index = 0;      // where its answer goes
    size_t partition_index = 0;
    size_t slot = 0;  // in ctx.fetch_partitions
    PartitionRead result{};
  };
  std::vector<Pick> picks;
  if (!session)
    for (const auto& topic : request.topics)
      for (const auto& p : topic.partitions) picks.push_back({&topic.topic, &topic.topic_id, &p, nullptr});
  Response response;
  for (;;) {
    response = Response{};
    uint64_t total = 0;
    bool any_error = false;
    bool more_now = false;
    // What wakes this fetch if it waits: an append (or a change of high
    // watermark, leader or log) on any partition read after this read of it.
    // A wake-up may come while the other shards are still being read: the
    // cancel it posts then runs before the wait has begun and cancels
    // nothing, so `woken` (read and written on this shard only) remembers
    // it; without it the fetch slept to its deadline, and a follower's
    // report, and with it the high watermark, waited replica.fetch.wait.max.ms.
    // In a session each partition has its own waiter, which marks it dirty
    // (and the dirty marks play the part of `woken`).
    std::shared_ptr<asio::steady_timer> timer;
    auto woken = std::make_shared<bool>(false);
    std::shared_ptr<cluster::FetchWaiter> waiter;
    if (may_wait) {
      timer = std::make_shared<asio::steady_timer>(ctx.shard.io(), deadline);
      if (session) {
        auto& wake = *session->wake();
        std::lock_guard lock(wake.mu);
        wake.executor = ctx.shard.executor();
        wake.timer = timer;
      } else {
        waiter = std::make_shared<cluster::FetchWaiter>();
        waiter->notify = [weak = std::weak_ptr<asio::steady_timer>(timer), executor = ctx.shard.executor(), woken] {
          asio::post(executor, [weak, woken] {
            *woken = true;
            if (auto t = weak.lock()) t->cancel();
          });
        };
      }
    }
    if (session) {
      picks.clear();
      for (const auto& e : session->entries()) {
        // A load first: most entries are clean, and a read-modify-write
        // of each would cost a locked instruction per partition per round.
        if (e->dirty.load(std::memory_order_relaxed) && e->dirty.exchange(false, std::memory_order_acq_rel))
          e->in_round = true;
        if (e->in_round) picks.push_back({&e->topic, &e->topic_id, &e->request, e.get()});
      }
    }
    // The connection's cache: a fetch outside a session names the same
    // partitions in the same order every round, and each is looked up by
    // name only when its shard's replicas changed since (a session's
    // entries keep their own).
    FetchPartitionCache* cache = session ? nullptr : ctx.fetch_partitions;
    size_t slots = 0;
    std::optional<cluster::TopicShape> info;
    for (auto& c : picks) {
      if (response.responses.empty() || response.responses.back().topic != *c.topic ||
          response.responses.back().topic_id != *c.topic_id) {
        auto& topic_response = response.responses.emplace_back();
        topic_response.topic = *c.topic;
        topic_response.topic_id = *c.topic_id;
        info = broker.topics().shape(*c.topic);
      }
      auto& topic_response = response.responses.back();
      auto& pr = topic_response.partitions.emplace_back();
      c.topic_index = response.responses.size() - 1;
      c.partition_index = topic_response.partitions.size() - 1;
      c.owner = nullptr;
      c.result = {};
      pr.partition_index = c.request->partition;
      pr.records = protocol::Records::of({});
      if (denied_topics.count(*c.topic) && !(c.topic->empty() && !info)) {
        pr.error_code = code(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        any_error = true;
        continue;
      }
      if (auto e = fetch_topic_error(info, *c.topic_id, c.request->partition, ctx.api_version); e != ErrorCode::NONE) {
        pr.error_code = code(e);
        any_error = true;
        continue;
      }
      c.owner = &broker.owner(*c.topic, c.request->partition);
      if (cache) {
        c.slot = slots++;
        cache->name(c.slot, *c.topic, c.request->partition);
      }
    }
    // The clocks and the fencing are read once per hop, not per partition.
    struct HopClock {
      int64_t now_ms;
      bool fenced;
    };
    auto replica_of = [&broker, cache](const Pick& r, Shard& shard, const HopClock& hop) -> cluster::Partition* {
      ReplicaLookup* lookup = r.entry ? &r.entry->lookup : cache ? &cache->slots[r.slot].lookup : nullptr;
      if (!lookup)
        return broker.serving(broker.partition_manager().partition(*r.topic, r.request->partition), hop.fenced);
      const uint64_t generation = broker.partition_manager().replicas_generation(shard.id());
      if (lookup->generation != generation) {
        lookup->replica = broker.partition_manager().partition(*r.topic, r.request->partition);
        lookup->generation = generation;
      }
      return broker.serving(lookup->replica, hop.fenced);
    };
    const int32_t replica_id = request.replica_id;
    const bool committed = request.isolation_level == kReadCommitted;
    // Reads `r` with what is left of the response's limit after `used`
    // bytes. KIP-74: the first batch goes out even if over the limits.
    auto read_one = [&broker, &replica_of, replica_id, committed, response_max](
                        Pick& r, uint64_t used, const std::shared_ptr<cluster::FetchWaiter>& waiter,
                        const HopClock& hop) {
      const auto& p = *r.request;
      uint64_t budget = std::min<uint64_t>(p.partition_max_bytes > 0 ? p.partition_max_bytes : 0,
                                           response_max > used ? response_max - used : 0);
      // A session's partition always leaves its own waiter.
      r.result = read_partition(broker, replica_of(r, *r.owner, hop), p, replica_id, budget, /*min_one=*/used == 0,
                                committed, r.entry ? r.entry->waiter : waiter, hop.now_ms);
    };
    auto hop_clock = [&broker]() { return HopClock{now_ms(), broker.fenced()}; };
    // One hop per shard, each partition read with the most it may get
    // (read_one(r, 0)); then what fits is kept in the request's order, as
    // Kafka fills a response. A partition that crosses the response's limit is
    // read again with what is left (one more hop, once), and the records of
    // any later one that does not fit are dropped: the response never
    // exceeds max_bytes, and a fetch of many partitions (a follower's of
    // every partition it replicates from this leader) no longer pays a hop
    // per partition, as it did when their limits together exceeded the
    // response's.
    const std::vector<Shard*> shards = owners_in_order(picks, [](const Pick& r) { return r.owner != nullptr; });
    for (Shard* shard : shards)
      co_await on_shard(*shard, [&picks, &read_one, &hop_clock, &waiter, shard]() {
        const HopClock hop = hop_clock();
        for (auto& r : picks)
          if (r.owner == shard) read_one(r, 0, waiter, hop);
      });
    uint64_t used = 0;
    bool read_again = false;
    for (auto& r : picks) {
      if (!r.owner) continue;
      const uint64_t left = response_max > used ? response_max - used : 0;
      const uint64_t partition_max = r.request->partition_max_bytes > 0 ? r.request->partition_max_bytes : 0;
      // With nothing before it, the first read's budget was the one it gets
      // in order (KIP-74's oversized first batch included).
      if (used > 0 && r.result.bytes > std::min(partition_max, left)) {
        if (!read_again && left > 0) {
          read_again = true;
          co_await on_shard(*r.owner, [&r, &read_one, &hop_clock, used]() { read_one(r, used, nullptr, hop_clock()); });
        } else {
          r.result.drop_records();
        }
      }
      used += r.result.bytes;
      more_now |= r.result.more_now;
      if (r.result.throttled && r.result.bytes > 0)
        broker.replication_throttle().record(kLeaderSide, static_cast<int64_t>(r.result.bytes),
                                             r.result.throttle_now_ms);
    }
    for (auto& r : picks) {
      if (!r.owner) continue;
      auto& read = r.result;
      auto& pr = response.responses[r.topic_index].partitions[r.partition_index];
      pr.error_code = code(read.error);
      pr.high_watermark = read.high_watermark;
      pr.last_stable_offset = read.last_stable_offset;
      pr.log_start_offset = read.log_start_offset;
      // Kafka: null for read_uncommitted, the (possibly empty) list for read_committed.
      if (committed) {
        pr.aborted_transactions = std::vector<Response::AbortedTransaction>{};
        for (const auto& a : read.aborted) {
          auto& at = pr.aborted_transactions->emplace_back();
          at.producer_id = a.producer_id;
          at.first_offset = a.first_offset;
        }
      } else {
        pr.aborted_transactions = std::nullopt;
      }
      if (read.error != ErrorCode::NONE) {
        any_error = true;
        continue;
      }
      if (!read.diverging.undefined()) {
        pr.diverging_epoch.epoch = read.diverging.epoch.value();
        pr.diverging_epoch.end_offset = read.diverging.end_offset.value();
        any_error = true;  // answer at once: waiting would not change it
        continue;
      }
      pr.records.files = std::move(read.slices);
      total += read.bytes;
    }
    if (total >= min_bytes || any_error || more_now || !may_wait || std::chrono::steady_clock::now() >= deadline) {
      if (!session) break;
      // The answer carries, in an incremental fetch, only the partitions
      // with news: records, an error, a diverging epoch, or offsets other
      // than the follower was last told. A partition stays dirty (read
      // again next round) unless its follower is at its log end and no
      // error or throttle is pending.
      for (const auto& c : picks) {
        auto& e = *c.entry;
        auto& pr = response.responses[c.topic_index].partitions[c.partition_index];
        const PartitionRead* read = c.owner ? &c.result : nullptr;
        const bool news = pr.error_code != 0 || pr.diverging_epoch.epoch >= 0 || !pr.records.files.empty() ||
                          pr.high_watermark != e.high_watermark || pr.last_stable_offset != e.last_stable_offset ||
                          pr.log_start_offset != e.log_start_offset;
        if (news || !choice.incremental) {
          e.high_watermark = pr.high_watermark;
          e.last_stable_offset = pr.last_stable_offset;
          e.log_start_offset = pr.log_start_offset;
        } else {
          pr.partition_index = -1;  // left out below
        }
        const bool settled =
            pr.error_code == 0 && pr.diverging_epoch.epoch < 0 && read && read->at_end && !read->more_now;
        if (!settled) e.dirty.store(true, std::memory_order_release);
        e.in_round = false;
      }
      for (auto& topic : response.responses)
        std::erase_if(topic.partitions, [](const auto& pr) { return pr.partition_index < 0; });
      std::erase_if(response.responses, [](const auto& topic) { return topic.partitions.empty(); });
      response.session_id = session->id();
      break;
    }
    // Not enough yet: sleep until new data arrives on any requested partition.
    const bool news = session ? std::any_of(session->entries().begin(), session->entries().end(),
                                            [](const auto& e) { return e->dirty.load(std::memory_order_acquire); })
                              : *woken;
    if (!news) {
      std::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  if (quota_applies) {
    // Recorded once the response is known; over the quota the client gets
    // nothing this time (and what it would have got does not count), only
    // the time to wait, as Kafka answers a throttled fetch.
    uint64_t bytes = 0;
    for (const auto& topic : response.responses) bytes += record_bytes(topic);
    const int64_t now = monotonic_ns() / 1'000'000;
    const std::string client_id = ctx.client_id.value_or("");
    const int32_t throttle = quotas.record(ClientQuotaManager::Kind::kFetch, ctx.session->principal, client_id,
                                           static_cast<double>(bytes), now);
    if (throttle > 0) {
      quotas.unrecord(ClientQuotaManager::Kind::kFetch, ctx.session->principal, client_id, static_cast<double>(bytes),
                      now);
      response = Response{};
      response.throttle_time_ms = throttle;
      ctx.throttle_ms = throttle;
      co_return response;
    }
  }
  // Bytes sent to consumers per topic (followers' reads are replication, not
  // counted, as Kafka keeps BytesOutPerSec apart from ReplicationBytesOut).
  if (request.replica_id < 0) {
    auto& out = broker.request_metrics(ctx.shard.id()).topic_bytes_out;
    for (const auto& topic : response.responses)
      if (const uint64_t bytes = record_bytes(topic)) out[topic.topic] += bytes;
  }
  add_fetch_leader_hints(broker, response, ctx.api_version);
  co_return response;
}

}  // namespace runnel
