#include "cluster/replication/replica_fetcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "base/clock.h"
#include "cluster/replication/truncation.h"
#include "protocol/fetch_session_epoch.h"
#include "protocol/messages.h"

namespace runnel::cluster::replication {

namespace {

constexpr int16_t kFetchVersion = 12;  // names topics, carries last_fetched_epoch and tagged fields

// After a small response (light load) the fetcher waits a little for what it
// appended to be durable before it fetches again, so that the next fetch
// carries the durable offset (and the leader may park it): a fetch sent at
// once would come back empty, one round trip later, and a third message
// would report the sync. The wait is a quarter of the time since the
// previous response that brought data, at most kSyncGrace: data that keeps
// arriving is not held back for a slow sync. A larger response is followed
// by the next fetch at once (pipelined: the sync runs while more data comes).
// See bench/README.md "The follower's report of its sync".
constexpr std::chrono::microseconds kSyncGrace{500};
constexpr size_t kLightResponseBytes = 256 << 10;

// How often an incremental round looks at every partition, not only the
// flagged ones: for what changes without the fetcher hearing of it (a
// replica gone offline, a throttle set, the follower's own retention).
constexpr std::chrono::milliseconds kFullWalkEvery{100};

}  // namespace

// One partition this fetcher copies. Held by the fetch in flight as well,
// so that a partition removed meanwhile is seen as such (`removed`).
struct ReplicaFetcher::Entry {
  explicit Entry(Key k) : key(std::move(k)) {}
  const Key key;
  bool removed = false;
  // The earliest time it may be fetched again (after an error).
  std::chrono::steady_clock::time_point not_before{};
  // The leader's high watermark in its last answer (unset before one): a
  // replica below it is behind (Kafka's fetch state lag), which the
  // follower's own high watermark (capped at its log end) cannot tell.
  std::optional<Offset> leader_high_watermark;
  // The replica as last looked up, and the shard's replicas_generation then.
  FollowerReplica* replica = nullptr;
  uint64_t generation = UINT64_MAX;
  // The last round that wanted it, the epoch it was asked in then (an
  // answer for an epoch since left is dropped) and whether what it fetched
  // counts against the follower throttle.
  uint64_t round = 0;
  LeaderEpoch asked_epoch = kUndefinedEpoch;
  bool asked_throttled = false;
  // Whether the leader's fetch session holds it, with the fetch state it
  // was last named with there (named again only when that changes).
  bool in_session = false;
  protocol::FetchRequest::FetchPartition sent;
  // Whether it was fetched when last looked at, and whether the next round
  // looks at it (State::flagged).
  bool wanted = false;
  bool flagged = false;
};

struct ReplicaFetcher::State {
  State(asio::io_context& io, Options o, Resolve r, Lookup l)
      : io(io),
        options(o),
        resolve(std::move(r)),
        lookup(std::move(l)),
        connection(io, "runnel-replica-" + std::to_string(o.self.value()), o.sasl, o.tls),
        timer(io) {}
  asio::io_context& io;
  Options options;
  Resolve resolve;
  Lookup lookup;
  BrokerConnection connection;
  asio::steady_timer timer;
  bool stopped = false;
  bool running = false;
  // The wait before the next login after a refused one (0: none refused).
  std::chrono::milliseconds auth_backoff{0};
  // Since when the leader has not answered (a failed fetch or connect), for
  // the log lines that bracket an outage; unset while fetches succeed.
  std::optional<std::chrono::steady_clock::time_point> broken_since;
  // When the last response that brought data arrived.
  std::chrono::steady_clock::time_point last_data_at{};
  // The partitions fetched, by name (in order: a topic's partitions are
  // next to each other, as the request lists them).
  std::map<Key, std::shared_ptr<Entry>> partitions;
  uint64_t round = 0;
  // The fetch session with the leader (KIP-227): its id (0: none) and the
  // epoch of the next incremental request (0: the next request is a full
  // one, which asks for a new session), and the partitions removed while
  // it held them (forgotten in the next request).
  int32_t session_id = 0;
  int32_t session_epoch = protocol::kInitialFetchSessionEpoch;
  std::vector<Key> forgotten;
  // What the next incremental round looks at besides a full walk: the
  // partitions whose fetch state may have changed (what this fetcher
  // appended, truncated or got an error for, add() for a new epoch, a sync
  // pending, a backoff or a throttle to look at again).
  std::vector<std::shared_ptr<Entry>> flagged;
  std::chrono::steady_clock::time_point next_full_walk{};
  uint64_t walked_generation = UINT64_MAX;
  size_t wanted_count = 0;

  void flag(const std::shared_ptr<Entry>& entry) {
    if (entry->flagged) return;
    entry->flagged = true;
    flagged.push_back(entry);
  }
  void set_wanted(Entry& entry, bool wanted) {
    if (entry.wanted == wanted) return;
    entry.wanted = wanted;
    if (wanted)
      ++wanted_count;
    else
      --wanted_count;
  }

  // Back to full requests: after a refused or failed fetch, or on a new
  // connection (a session lives with the leader's connection).
  void reset_session() {
    session_id = 0;
    session_epoch = protocol::kInitialFetchSessionEpoch;
    forgotten.clear();
    for (auto& [_, entry] : partitions) entry->in_session = false;
  }

  // The replica of `entry`, looked up again only when this shard's replicas
  // changed since (Options::replicas_generation).
  FollowerReplica* replica(Entry& entry) {
    const uint64_t now = options.replicas_generation ? *options.replicas_generation : 0;
    if (!options.replicas_generation || entry.generation != now) {
      entry.replica = lookup(entry.key.first, entry.key.second);
      entry.generation = now;
    }
    return entry.replica;
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    timer.expires_after(d);
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // Waits until each partition of `targets` is durable through its offset,
  // or `grace` has passed, whichever comes first.
  asio::awaitable<void> wait_durable_within(const std::vector<std::pair<FollowerReplica*, Offset>>& targets,
                                            std::chrono::microseconds grace) {
    auto deadline = std::make_shared<asio::steady_timer>(io, grace);
    auto left = std::make_shared<size_t>(0);
    for (auto [partition, offset] : targets) {
      if (partition->durable_offset() > offset) continue;
      ++*left;
      // Outlives this wait when the grace runs out first; it touches only
      // the shared timer and count once the sync is done.
      asio::co_spawn(
          io,
          [partition, offset, deadline, left]() -> asio::awaitable<void> {
            (void)co_await partition->wait_durable(offset);
            if (--*left == 0) deadline->cancel();
          },
          asio::detached);
    }
    if (*left == 0) co_return;
    asio::error_code ec;
    co_await deadline->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
};

ReplicaFetcher::ReplicaFetcher(asio::io_context& io, Options options, Resolve resolve, Lookup lookup)
    : state_(std::make_shared<State>(io, options, std::move(resolve), std::move(lookup))) {}

ReplicaFetcher::~ReplicaFetcher() { stop(); }

void ReplicaFetcher::add(const std::string& topic, PartitionId partition) {
  Key key{topic, partition};
  auto it = state_->partitions.find(key);
  if (it == state_->partitions.end()) it = state_->partitions.emplace(key, std::make_shared<Entry>(key)).first;
  state_->flag(it->second);  // new, or followed in a new epoch
  state_->timer.cancel();    // an idle loop looks again now
}

void ReplicaFetcher::remove(const std::string& topic, PartitionId partition) {
  auto it = state_->partitions.find({topic, partition});
  if (it == state_->partitions.end()) return;
  it->second->removed = true;
  if (it->second->in_session) state_->forgotten.push_back(it->first);
  state_->set_wanted(*it->second, false);
  state_->partitions.erase(it);
}

bool ReplicaFetcher::empty() const { return state_->partitions.empty(); }

void ReplicaFetcher::start() {
  if (state_->running) return;
  state_->running = true;
  asio::co_spawn(state_->io, run(state_), asio::detached);
}

void ReplicaFetcher::stop() {
  state_->stopped = true;
  for (auto& [_, entry] : state_->partitions) entry->removed = true;
  state_->partitions.clear();
  state_->flagged.clear();
  state_->timer.cancel();
  state_->connection.close();
}

asio::awaitable<void> ReplicaFetcher::run(std::shared_ptr<State> state) {
  while (!state->stopped) {
    bool failed = false;
    try {
      co_await fetch_once(*state);
    } catch (const std::exception& e) {
      spdlog::warn("replica fetcher from node {}: {}", state->options.leader.value(), e.what());
      failed = true;
    }
    if (failed) {
      state->connection.close();
      co_await state->sleep(state->options.backoff);
    }
  }
}

asio::awaitable<void> ReplicaFetcher::fetch_once(State& s) {
  const auto now = std::chrono::steady_clock::now();
  protocol::FetchRequest request;
  request.replica_id = s.options.self.value();
  request.min_bytes = 1;
  request.max_bytes = 64 << 20;
  // In a session an incremental request names only the partitions whose
  // fetch state changed and forgets those no longer wanted; the leader
  // answers only partitions with news. Otherwise the request is a full one
  // (epoch 0), which asks the leader for a new session.
  if (!s.connection.connected()) s.reset_session();
  const bool incremental = s.session_id != 0 && s.session_epoch > 0;
  if (!incremental) s.reset_session();
  request.session_id = s.session_id;
  request.session_epoch = s.session_epoch;
  const uint64_t round = ++s.round;
  // The partitions named, in the request's order (the leader answers in
  // it); in a session the answer may also carry others it holds.
  std::vector<std::shared_ptr<Entry>> asked;
  // Partitions whose appended data is not yet durable (their log end, to
  // wait for if the leader has nothing new).
  std::vector<std::pair<std::shared_ptr<Entry>, Offset>> unsynced;
  const int64_t throttle_now_ms = monotonic_ns() / 1000000;
  // Looks at one partition: whether it is fetched now, and if its fetch
  // state differs from what the session holds, names it. One no longer
  // fetched leaves the session.
  auto look = [&](const std::shared_ptr<Entry>& entry) {
    const Key& key = entry->key;
    auto leave = [&s, &entry, &key, incremental](bool look_again) {
      s.set_wanted(*entry, false);
      if (look_again) s.flag(entry);
      if (incremental && entry->in_session) {
        entry->in_session = false;
        s.forgotten.push_back(key);
      }
    };
    if (entry->not_before > now) return leave(/*look_again=*/true);
    auto* partition = s.replica(*entry);
    // An offline replica copies nothing: it may not rejoin the ISR until its
    // broker restarts and recovers it.
    if (!partition || partition->is_leader() || partition->offline() || partition->leader() != s.options.leader)
      return leave(/*look_again=*/false);
    // Throttled and behind the leader (KIP-73): left out while the follower
    // side is over its rate, and what it fetches is counted.
    bool throttled = false;
    if (s.options.throttle && partition->follower_throttled()) {
      // Unknown lag counts as behind, as in Kafka.
      if (!entry->leader_high_watermark || partition->log_end_offset() < *entry->leader_high_watermark) {
        if (s.options.throttle->exceeded(ReplicationThrottle::Side::kFollower, throttle_now_ms))
          return leave(/*look_again=*/true);
        throttled = true;
      }
    }
    protocol::FetchRequest::FetchPartition fp;
    fp.partition = key.second.value();
    fp.current_leader_epoch = partition->leader_epoch().value();
    fp.fetch_offset = partition->log_end_offset().value();
    fp.last_fetched_epoch = partition->latest_epoch().value_or(kUndefinedEpoch).value();
    fp.log_start_offset = partition->log_start_offset().value();
    fp.partition_max_bytes = s.options.partition_max_bytes;
    fp.durable_offset = partition->durable_offset().value();
    if (fp.durable_offset < fp.fetch_offset) {
      unsynced.push_back({entry, Offset(fp.fetch_offset - 1)});
      s.flag(entry);  // its sync's end is named next
    }
    s.set_wanted(*entry, true);
    entry->round = round;
    entry->asked_epoch = partition->leader_epoch();
    entry->asked_throttled = throttled;
    if (incremental && entry->in_session && entry->sent == fp) return;
    if (request.topics.empty() || request.topics.back().topic != key.first)
      request.topics.emplace_back().topic = key.first;
    request.topics.back().partitions.push_back(fp);
    entry->sent = fp;
    entry->in_session = true;
    asked.push_back(entry);
  };
  // A full request, and every kFullWalkEvery or once a replica of this
  // shard was opened, replaced or closed, looks at every partition; other
  // rounds only at the flagged ones: a round's cost follows what changed.
  const uint64_t generation = s.options.replicas_generation ? *s.options.replicas_generation : 0;
  if (!incremental || now >= s.next_full_walk || generation != s.walked_generation) {
    s.next_full_walk = now + kFullWalkEvery;
    s.walked_generation = generation;
    for (auto& e : s.flagged) e->flagged = false;
    s.flagged.clear();
    for (auto& [key, entry] : s.partitions) look(entry);
  } else {
    std::vector<std::shared_ptr<Entry>> flagged;
    flagged.swap(s.flagged);
    // In key order, so that a topic's partitions are next to each other.
    std::sort(flagged.begin(), flagged.end(), [](const auto& a, const auto& b) { return a->key < b->key; });
    for (auto& entry : flagged) {
      entry->flagged = false;
      if (!entry->removed) look(entry);
    }
  }
  // Pipelined: the next fetch goes out while the last append is being
  // synced. If a sync is still pending the leader must not park this fetch
  // (it would hold the durable offset it carries, and so the high
  // watermark, for max_wait_ms): it answers at once, and if it had nothing
  // new the follower waits for its sync and reports it in the next fetch.
  request.max_wait_ms = unsynced.empty() ? s.options.max_wait_ms : 0;
  if (s.wanted_count == 0) {
    co_await s.sleep(s.options.backoff);
    co_return;
  }
  if (incremental) {
    for (const auto& [topic, index] : s.forgotten) {
      // Removed and added again since: named in this request, not forgotten
      // (the leader applies what a request forgets after what it names).
      if (auto again = s.partitions.find(Key{topic, index});
          again != s.partitions.end() && again->second->round == round && again->second->in_session)
        continue;
      if (request.forgotten_topics_data.empty() || request.forgotten_topics_data.back().topic != topic)
        request.forgotten_topics_data.emplace_back().topic = topic;
      request.forgotten_topics_data.back().partitions.push_back(index.value());
    }
    s.forgotten.clear();
  }
  if (!s.connection.connected()) {
    auto endpoint = s.resolve(s.options.leader);
    if (!endpoint) {
      co_await s.sleep(s.options.backoff);
      co_return;
    }
    auto ec = co_await s.connection.connect(endpoint->host, endpoint->port, std::chrono::seconds(5));
    if (s.stopped) co_return;
    if (ec == std::errc::permission_denied) {
      // A refused TLS handshake or login is a configuration error (an
      // untrusted certificate, a name it does not carry, a wrong password,
      // a user missing on the leader): said loudly, retried ever more
      // slowly, so that fixing it heals replication without restarting us.
      s.auth_backoff =
          s.auth_backoff.count() == 0 ? s.options.backoff : std::min(s.auth_backoff * 2, s.options.auth_backoff_max);
      if (s.connection.refused_at() == BrokerConnection::Stage::kTls)
        spdlog::error("replica fetcher: TLS handshake failed with node {} at {}:{}: {}; retrying in {} ms",
                      s.options.leader.value(), endpoint->host, endpoint->port, s.connection.auth_error(),
                      s.auth_backoff.count());
      else
        spdlog::error(
            "replica fetcher: authentication failed to node {} at {}:{} as {} with SASL mechanism {}: {}; retrying "
            "in {} ms",
            s.options.leader.value(), endpoint->host, endpoint->port, s.options.sasl ? s.options.sasl->username : "",
            s.options.sasl ? s.options.sasl->mechanism : "", s.connection.auth_error(), s.auth_backoff.count());
      co_await s.sleep(s.auth_backoff);
      co_return;
    }
    if (ec) {
      spdlog::debug("replica fetcher: cannot connect to node {} at {}:{}: {}", s.options.leader.value(), endpoint->host,
                    endpoint->port, ec.message());
      if (!s.broken_since) s.broken_since = std::chrono::steady_clock::now();
      co_await s.sleep(s.options.backoff);
      co_return;
    }
  }
  auto body = co_await s.connection.call(request, kFetchVersion,
                                         std::chrono::milliseconds(s.options.max_wait_ms) + std::chrono::seconds(10));
  if (s.stopped) co_return;
  if (!body) {
    s.reset_session();
    if (s.connection.uses_tls() && s.connection.last_error_is_tls()) {
      // The leader ended the TLS session with an alert, most likely because
      // it does not accept this broker's certificate (its log says why):
      // a configuration error, retried as a refused handshake is.
      s.auth_backoff =
          s.auth_backoff.count() == 0 ? s.options.backoff : std::min(s.auth_backoff * 2, s.options.auth_backoff_max);
      spdlog::error(
          "replica fetcher: node {} ended the TLS session: {} (does it trust this broker's certificate, "
          "ssl.keystore.location?); retrying in {} ms",
          s.options.leader.value(), s.connection.last_error().message(), s.auth_backoff.count());
      co_await s.sleep(s.auth_backoff);
      co_return;
    }
    if (!s.broken_since) {
      s.broken_since = std::chrono::steady_clock::now();
      spdlog::warn("replica fetcher: fetch from node {} failed: {}; connecting again", s.options.leader.value(),
                   s.connection.last_error().message());
    }
    co_await s.sleep(s.options.backoff);
    co_return;
  }
  if (s.broken_since) {
    spdlog::info(
        "replica fetcher: fetching from node {} again after {} ms", s.options.leader.value(),
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *s.broken_since)
            .count());
    s.broken_since.reset();
  }
  protocol::FetchResponse response;
  protocol::Reader reader(body->body);
  response.read(reader, kFetchVersion);
  if (s.auth_backoff.count() != 0) {
    // Answered after refused handshakes or logins: the fix took.
    spdlog::info("replica fetcher: fetching from node {} again", s.options.leader.value());
    s.auth_backoff = std::chrono::milliseconds(0);
  }
  if (response.error_code != 0) {
    // A session the leader no longer has (it restarted, or closed the
    // connection's sessions) or out of step: a full request starts a new
    // one at once.
    s.reset_session();
    const auto error = static_cast<ErrorCode>(response.error_code);
    if (error != ErrorCode::FETCH_SESSION_ID_NOT_FOUND && error != ErrorCode::INVALID_FETCH_SESSION_EPOCH)
      co_await s.sleep(s.options.backoff);
    co_return;
  }
  if (incremental) {
    s.session_epoch = protocol::next_fetch_session_epoch(s.session_epoch);
  } else if (response.session_id != 0) {
    s.session_id = response.session_id;
    s.session_epoch = protocol::next_fetch_session_epoch(protocol::kInitialFetchSessionEpoch);
  } else {
    s.reset_session();  // the leader keeps no session: full requests
  }
  bool appended = false;
  uint64_t appended_bytes = 0;
  std::vector<std::pair<FollowerReplica*, Offset>> appended_to;
  const int64_t now_ms = wall_clock_ms();
  // A full answer follows the request's order, so a cursor over `asked`
  // finds each answer's partition; a lookup by name only if it did not (in
  // a session, a partition not named this time).
  size_t cursor = 0;
  auto answered = [&s, &asked, &cursor, round](const std::string& topic, int32_t index) -> std::shared_ptr<Entry> {
    if (cursor < asked.size() && asked[cursor]->key.second.value() == index && asked[cursor]->key.first == topic)
      return asked[cursor++];
    auto it = s.partitions.find(Key{topic, PartitionId(index)});
    if (it == s.partitions.end() || !it->second->in_session) return nullptr;
    return it->second;
  };
  for (auto& topic : response.responses) {
    for (auto& pd : topic.partitions) {
      const std::shared_ptr<Entry> held = answered(topic.topic, pd.partition_index);
      if (!held || held->removed) continue;
      s.flag(held);  // what follows may change its fetch state
      Entry& entry = *held;
      const Key& key = entry.key;
      auto* partition = s.replica(entry);
      if (!partition || partition->is_leader() || partition->leader_epoch() != entry.asked_epoch) continue;
      auto error = static_cast<ErrorCode>(pd.error_code);
      if (error == ErrorCode::OFFSET_OUT_OF_RANGE && Offset(pd.log_start_offset) > partition->log_end_offset()) {
        // Away while the leader's retention or DeleteRecords moved past our
        // end: what we have is below the leader's log, so start at its start.
        if (!co_await partition->truncate_fully_and_start_at(Offset(pd.log_start_offset)))
          entry.not_before = std::chrono::steady_clock::now() + s.options.backoff;
        continue;
      }
      if (error != ErrorCode::NONE) {
        // The leader moved, or knows of an epoch we have not heard of yet:
        // the metadata will catch up; until then this partition waits.
        spdlog::debug("{}-{}: fetch from node {} failed: {}", key.first, key.second.value(), s.options.leader.value(),
                      error_name(error));
        entry.not_before = std::chrono::steady_clock::now() + s.options.backoff;
        continue;
      }
      if (pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0) {
        storage::EpochEndOffset answer{LeaderEpoch(pd.diverging_epoch.epoch), Offset(pd.diverging_epoch.end_offset)};
        auto step = next_truncation(storage::EpochList(partition->epoch_entries()), partition->log_end_offset(), answer,
                                    partition->high_watermark());
        if (!co_await partition->truncate_to(step.truncate_to)) {
          entry.not_before = std::chrono::steady_clock::now() + s.options.backoff;
        }
        continue;
      }
      if (!pd.records.is_null && !pd.records.memory.empty()) {
        auto result = partition->append_replicated(pd.records.memory, now_ms);
        if (result.error != ErrorCode::NONE) {
          spdlog::error("{}-{}: cannot append what node {} sent at offset {}: {} {}", key.first, key.second.value(),
                        s.options.leader.value(), partition->log_end_offset().value(), error_name(result.error),
                        result.error_message);
          entry.not_before = std::chrono::steady_clock::now() + s.options.backoff;
          continue;
        }
        if (entry.asked_throttled)
          s.options.throttle->record(ReplicationThrottle::Side::kFollower,
                                     static_cast<int64_t>(pd.records.memory.size()), monotonic_ns() / 1000000);
        if (result.last_offset >= 0) {
          appended = true;
          appended_bytes += pd.records.memory.size();
          appended_to.emplace_back(partition, Offset(result.last_offset));
        }
      }
      partition->set_leader_high_watermark(Offset(pd.high_watermark));
      entry.leader_high_watermark = Offset(pd.high_watermark);
      // The leader's log start moved (DeleteRecords, retention, compaction
      // of __consumer_offsets): follow it, as Kafka's followers do.
      if (Offset(pd.log_start_offset) > partition->log_start_offset())
        (void)partition->delete_records_before(Offset(pd.log_start_offset));
    }
  }
  // Data keeps coming: fetch again at once (its sync runs meanwhile, and the
  // next fetch or the one after reports it), after a short wait for a sync
  // that is about to finish when the load is light (kSyncGrace). Nothing
  // new: wait for the pending syncs so that the next fetch reports them and
  // may be parked.
  if (appended) {
    const auto arrived = std::chrono::steady_clock::now();
    const auto grace = std::min<std::chrono::microseconds>(
        kSyncGrace, std::chrono::duration_cast<std::chrono::microseconds>(arrived - s.last_data_at) / 4);
    s.last_data_at = arrived;
    if (appended_bytes < kLightResponseBytes && grace.count() > 0 && !s.stopped)
      co_await s.wait_durable_within(appended_to, grace);
    co_return;
  }
  for (auto& [entry, last] : unsynced) {
    if (s.stopped) co_return;
    if (entry->removed) continue;
    auto* partition = s.replica(*entry);
    if (!partition) continue;
    // A truncation since may have cut below `last`: wait only for what is there.
    const Offset target = std::min(last, Offset(partition->log_end_offset().value() - 1));
    if (target < Offset(0)) continue;
    (void)co_await partition->wait_durable(target);
  }
}

}  // namespace runnel::cluster::replication
