// runnel-bench txn-blast: a lean transactional producer (issue 12), to
// measure what the broker does per transaction without librdkafka's CPU on
// the two cores it shares with the broker.
//
// --producers producers, each its own connection and transactional id
// ("txn-blast-<run>-<i>"), each running transactions back to back, one
// request in flight, as a Kafka producer does with one partition set:
//   AddPartitionsToTxn v2 (every partition of the topic)
//   Produce v8 acks=all (one transactional batch of --batch-records records
//     per partition: its sequence and CRC-32C patched in per request)
//   EndTxn v1 (commit)
// CONCURRENT_TRANSACTIONS (the previous transaction's markers still being
// written) is retried at once, as the broker holds the request up to a
// second before answering it.
//
// Against a cluster as against one broker: each producer asks the first
// bootstrap address for the topic's leaders (Metadata v1) and its id's
// coordinator (FindCoordinator v1, key type 1), sends the transaction's
// requests to the coordinator and one Produce per leader (all sent before
// the first response is read). Leadership is looked up once: a bench, not
// a client, so a leader or coordinator that moves ends the run with an error.
//
// The producers share one thread: an event loop (epoll) reads whatever
// responses have arrived and sends each producer's next request, so the
// client's CPU per transaction stays small next to the broker's on the two
// cores they share (a thread per producer, blocking, took ~70 us of CPU per
// transaction at 64 producers, a fifth of the broker's; rates and CPU
// count from the end of the set-up).
//
// Reports transactions/s, records/s, the latency of a whole transaction and
// of each request kind, client CPU and, with --broker-pid, broker CPU.
#include <sys/epoll.h>

#include <atomic>
#include <map>
#include <thread>

#include "blast_wire.h"

namespace runnel::bench {

using namespace blast_detail;

namespace {

constexpr int16_t kConcurrentTransactions = 51;
constexpr int16_t kCoordinatorLoadInProgress = 14;
constexpr int16_t kCoordinatorNotAvailable = 15;  // __transaction_state being created
constexpr int16_t kNotCoordinator = 16;           // ... or its partitions being loaded

struct ProducerStats {
  uint64_t transactions = 0;
  uint64_t retries = 0;
  Histogram txn, add, produce, end;
};

bool transient(int16_t err) {
  return err == kConcurrentTransactions || err == kCoordinatorLoadInProgress || err == kCoordinatorNotAvailable ||
         err == kNotCoordinator;
}

// Options for a connection to `address` instead of the bootstrap list.
Options at(const Options& o, const std::string& address) {
  Options to = o;
  to.bootstrap = address;
  return to;
}

// Who leads each partition of the topic: {leader: its partitions} and every
// broker's host:port, from Metadata v1; empty when a partition has no leader
// yet after a few seconds of asking.
struct Leaders {
  std::map<int32_t, std::vector<int32_t>> partitions_of;
  std::map<int32_t, std::string> address;
};

Leaders find_leaders(Conn& c, int32_t& corr, const std::string& topic, int parts) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    Enc m = request_start(3, 1, corr);
    m.i32(1);
    m.str(topic);
    auto body = c.round_trip(finish(m), corr++);
    Dec d{body.data() + 4, body.data() + body.size()};
    Leaders l;
    for (int32_t n = d.i32(); n > 0; --n) {
      int32_t node = d.i32();
      std::string host = d.str();
      int32_t port = d.i32();
      d.str();  // rack
      l.address[node] = fmt::format("{}:{}", host, port);
    }
    d.i32();  // controller
    int found = 0;
    for (int32_t t = d.i32(); t > 0; --t) {
      d.i16();  // topic error
      d.str();
      d.i8();  // internal
      for (int32_t n = d.i32(); n > 0; --n) {
        int16_t err = d.i16();
        int32_t partition = d.i32(), leader = d.i32();
        for (int32_t k = d.i32(); k > 0; --k) d.i32();  // replicas
        for (int32_t k = d.i32(); k > 0; --k) d.i32();  // isr
        if (err == 0 && leader >= 0 && l.address.count(leader)) {
          l.partitions_of[leader].push_back(partition);
          ++found;
        }
      }
    }
    if (found == parts) return l;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

// The coordinator of `txn_id`: its host:port from FindCoordinator v1, ""
// when none is found within a few seconds (the error code in `error`).
std::string find_coordinator(Conn& c, int32_t& corr, const std::string& txn_id, int16_t& error) {
  for (int attempt = 0; attempt < 250; ++attempt) {
    Enc f = request_start(10, 1, corr);
    f.str(txn_id);
    f.i8(1);  // transaction coordinator
    auto body = c.round_trip(finish(f), corr++);
    Dec d{body.data() + 4, body.data() + body.size()};
    d.i32();  // throttle
    error = d.i16();
    d.str();  // error message
    d.i32();  // node id
    std::string host = d.str();
    int32_t port = d.i32();
    if (error == 0) return fmt::format("{}:{}", host, port);
    if (!transient(error)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

// One transactional producer: its connections, producer id and three
// requests, set up by set_up() on a thread of its own (blocking, as the
// set-up waits for __transaction_state), then driven by the event loop of
// mode_txn_blast one response at a time: AddPartitionsToTxn, Produce (one
// per leader, all sent before the first response is read), EndTxn, and
// again until `stop_ns`. One request in flight per connection, as a Kafka
// producer with one partition set.
class Producer {
 public:
  Producer(const Options& o, int parts, int batch_records, std::string txn_id, const std::string& value,
           ProducerStats& st)
      : o_(o), parts_(parts), batch_records_(batch_records), txn_id_(std::move(txn_id)), value_(value), st_(st) {}

  // False (the reason in error()) when the producer cannot start.
  bool set_up();
  // Every connection it reads responses from.
  std::vector<Conn*> connections() const {
    std::vector<Conn*> all;
    for (const auto& [address, conn] : conns_) all.push_back(conn.get());
    return all;
  }
  // Sends the first transaction's AddPartitionsToTxn.
  void begin() { start_transaction(); }
  // Why it stopped early ("" when it did not).
  const std::string& error() const { return error_; }
  // Whether a response is due on `c`.
  bool expects(const Conn* c) const {
    if (step_ == Step::kAdd || step_ == Step::kEnd) return c == coordinator_;
    if (step_ == Step::kProduce)
      for (const auto& lp : produces_)
        if (lp.conn == c && lp.pending) return true;
    return false;
  }
  // Reads the response readable on `c` and sends the next request; false
  // once the producer has finished (past `stop_ns`, or failed).
  bool on_readable(Conn& c, uint64_t stop_ns);

 private:
  enum class Step { kAdd, kProduce, kEnd, kDone };
  struct LeaderProduce {
    Conn* conn;
    std::string request;
    std::vector<size_t> batch_at;
    int32_t correlation = 0;
    bool pending = false;
  };

  bool fail(const std::string& what) {
    error_ = txn_id_ + ": " + what;
    step_ = Step::kDone;
    return false;
  }
  Conn& conn_to(const std::string& address) {
    auto& slot = conns_[address];
    if (!slot) slot = std::make_unique<Conn>(at(o_, address));
    return *slot;
  }
  // Sends `request` (AddPartitionsToTxn or EndTxn) to the coordinator.
  void send_to_coordinator(std::string& request) {
    put_be(request, 8, uint32_t(corr_), 4);
    awaited_ = corr_++;
    request_t0_ = now_ns();
    coordinator_->write(request);
  }
  void start_transaction() {
    step_ = Step::kAdd;
    txn_t0_ = now_ns();
    send_to_coordinator(add_request_);
  }
  void send_produces() {
    step_ = Step::kProduce;
    request_t0_ = now_ns();
    produce_failed_ = 0;
    for (auto& lp : produces_) {
      lp.correlation = corr_++;
      lp.pending = true;
      put_be(lp.request, 8, uint32_t(lp.correlation), 4);
      for (size_t at : lp.batch_at) {
        put_be(lp.request, at + kBatchBaseSequenceAt, uint32_t(sequence_ % (uint64_t(1) << 31)), 4);
        const auto* from = reinterpret_cast<const uint8_t*>(lp.request.data()) + at + kBatchAttributesAt;
        put_be(lp.request, at + kBatchCrcAt, crc32c_of(from, batch_size_ - kBatchAttributesAt), 4);
      }
      lp.conn->write(lp.request);
    }
  }

  const Options& o_;
  const int parts_, batch_records_;
  const std::string txn_id_;
  const std::string& value_;
  ProducerStats& st_;  // shared by every producer of the event loop's thread
  std::string error_;
  std::map<std::string, std::unique_ptr<Conn>> conns_;  // one per broker it talks to
  Conn* coordinator_ = nullptr;
  int32_t corr_ = 1, awaited_ = 0;
  std::string add_request_, end_request_;  // encoded once; correlation ids patched in
  std::vector<LeaderProduce> produces_;
  size_t batch_size_ = 0;
  uint64_t sequence_ = 0;  // per partition: every partition gets the same batches
  Step step_ = Step::kDone;
  uint64_t txn_t0_ = 0, request_t0_ = 0;
  int16_t produce_failed_ = 0;
};

bool Producer::set_up() {
  Conn bootstrap(at(o_, o_.bootstrap.substr(0, o_.bootstrap.find(','))));
  const Leaders leaders = find_leaders(bootstrap, corr_, o_.topic, parts_);
  if (leaders.partitions_of.empty()) return fail("Metadata: a partition of " + o_.topic + " has no leader");
  int16_t coordinator_error = 0;
  const std::string coordinator = find_coordinator(bootstrap, corr_, txn_id_, coordinator_error);
  if (coordinator.empty()) return fail(fmt::format("FindCoordinator: error {}", coordinator_error));
  coordinator_ = &conn_to(coordinator);

  // InitProducerId v1 with the transactional id (retried while the broker
  // creates and loads __transaction_state, or a previous instance's
  // transaction is aborted).
  int64_t producer_id = -1;
  int16_t epoch = -1;
  for (int attempt = 0;; ++attempt) {
    Enc init = request_start(22, 1, corr_);
    init.str(txn_id_);
    init.i32(60000);
    auto body = coordinator_->round_trip(finish(init), corr_++);
    Dec d{body.data() + 4, body.data() + body.size()};
    d.i32();  // throttle
    int16_t err = d.i16();
    if (err == 0) {
      producer_id = d.i64();
      epoch = d.i16();
      break;
    }
    if (!transient(err) || attempt > 250) return fail(fmt::format("InitProducerId: error {}", err));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  Enc add = request_start(24, 2, 0);
  add.str(txn_id_);
  add.i64(producer_id);
  add.i16(epoch);
  add.i32(1);
  add.str(o_.topic);
  add.i32(parts_);
  for (int p = 0; p < parts_; ++p) add.i32(p);
  add_request_ = finish(add);

  std::string batch = record_batch(batch_records_, value_, wall_ms());
  put_be(batch, kBatchAttributesAt, 0x10, 2);  // transactional
  put_be(batch, kBatchProducerIdAt, uint64_t(producer_id), 8);
  put_be(batch, kBatchProducerIdAt + 8, uint64_t(uint16_t(epoch)), 2);
  batch_size_ = batch.size();
  for (const auto& [leader, partitions] : leaders.partitions_of) {
    LeaderProduce lp{&conn_to(leaders.address.at(leader)), {}, {}};
    lp.request = produce_request(txn_id_, /*acks=all*/ -1, o_.topic, partitions, batch, lp.batch_at);
    produces_.push_back(std::move(lp));
  }

  Enc end = request_start(26, 1, 0);
  end.str(txn_id_);
  end.i64(producer_id);
  end.i16(epoch);
  end.i8(1);  // commit
  end_request_ = finish(end);
  return true;
}

bool Producer::on_readable(Conn& c, uint64_t stop_ns) {
  std::vector<uint8_t> body;
  c.read_response(body);
  Dec d{body.data(), body.data() + body.size()};
  const int32_t correlation = d.i32();
  // The first partition error that is not NONE in a topics[partitions[index,
  // error, ...]] response; `rest` reads what follows a partition's error.
  auto first_partition_error = [&d](auto rest) -> int16_t {
    int16_t first = 0;
    for (int32_t t = d.i32(); t > 0; --t) {
      d.str();
      for (int32_t n = d.i32(); n > 0; --n) {
        d.i32();
        int16_t e = d.i16();
        rest(d);
        if (e && !first) first = e;
      }
    }
    return first;
  };

  if (step_ == Step::kAdd || step_ == Step::kEnd) {
    if (correlation != awaited_) die("txn-blast: response out of order");
    d.i32();  // throttle
    const bool add = step_ == Step::kAdd;
    (add ? st_.add : st_.end).record(now_ns() - request_t0_);
    const int16_t err = add ? first_partition_error([](Dec&) {}) : d.i16();
    if (err == kConcurrentTransactions) {  // the previous markers still being written: again at once
      ++st_.retries;
      send_to_coordinator(add ? add_request_ : end_request_);
      return true;
    }
    if (err) return fail(fmt::format("{}: {}", add ? "AddPartitionsToTxn" : "EndTxn", err));
    if (add) {
      send_produces();
      return true;
    }
    st_.txn.record(now_ns() - txn_t0_);
    ++st_.transactions;
    if (now_ns() >= stop_ns || g_stop) {
      step_ = Step::kDone;
      return false;
    }
    start_transaction();
    return true;
  }

  // Produce: this connection's leader's response.
  LeaderProduce* lp = nullptr;
  for (auto& p : produces_)
    if (p.conn == &c && p.pending) lp = &p;
  if (!lp || correlation != lp->correlation) die("txn-blast: response out of order");
  lp->pending = false;
  const int16_t e = first_partition_error([](Dec& p) {
    p.skip(8 + 8 + 8);  // base offset, log append time, log start offset
    for (int32_t k = std::max(0, p.i32()); k > 0; --k) p.i32(), p.str();
    p.str();  // error message
  });
  if (e && !produce_failed_) produce_failed_ = e;
  for (const auto& p : produces_)
    if (p.pending) return true;
  st_.produce.record(now_ns() - request_t0_);
  if (produce_failed_) return fail(fmt::format("Produce: {}", produce_failed_));
  sequence_ += uint64_t(batch_records_);
  step_ = Step::kEnd;
  send_to_coordinator(end_request_);
  return true;
}

// Runs every producer from one thread until each has finished: a response
// is read when epoll says its connection is readable, so a thread wakes
// once for whatever responses arrived together, not once per producer.
void run_event_loop(std::vector<std::unique_ptr<Producer>>& producers, uint64_t stop_ns) {
  struct Source {
    Producer* producer;
    Conn* conn;
  };
  std::vector<Source> sources;
  for (auto& p : producers)
    for (Conn* c : p->connections()) sources.push_back({p.get(), c});
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(fmt::format("txn-blast: epoll_create1: {}", std::strerror(errno)));
  for (auto& s : sources) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &s;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s.conn->fd(), &ev) != 0)
      die(fmt::format("txn-blast: epoll_ctl: {}", std::strerror(errno)));
  }
  size_t running = producers.size();
  for (auto& p : producers) p->begin();
  std::vector<epoll_event> events(256);
  while (running > 0) {
    const int n = epoll_wait(ep, events.data(), int(events.size()), 1000);
    if (n < 0 && errno != EINTR) die(fmt::format("txn-blast: epoll_wait: {}", std::strerror(errno)));
    for (int i = 0; i < n; ++i) {
      auto* s = static_cast<Source*>(events[size_t(i)].data.ptr);
      if (!s->producer->expects(s->conn)) continue;  // finished: nothing more is read from it
      // A response can arrive with the one before it: read what is buffered too.
      do {
        if (!s->producer->on_readable(*s->conn, stop_ns)) {
          --running;
          break;
        }
      } while (s->conn->buffered() && s->producer->expects(s->conn));
    }
  }
  close(ep);
}

}  // namespace

int mode_txn_blast(const Options& o) {
  const int batch_records = o.batch_records > 0 ? o.batch_records : 100;
  const int parts = ensure_topic(o);
  if (parts <= 0) die("txn-blast: topic " + o.topic + " does not exist and --partitions was not given");
  const int producers = std::max(1, o.producers);
  const std::string value = random_payload(o.record_size);
  const std::string run = std::to_string(wall_ms());
  // One set of counters and histograms for all producers: they run on one
  // thread, and 4 histograms stay in the cache where 4 per producer did not.
  ProducerStats all;
  // Set-up (connections, coordinator, producer ids) on a thread per
  // producer; the transactions then run from one event-loop thread.
  std::vector<std::unique_ptr<Producer>> all_producers;
  for (int i = 0; i < producers; ++i)
    all_producers.push_back(
        std::make_unique<Producer>(o, parts, batch_records, fmt::format("txn-blast-{}-{}", run, i), value, all));
  std::atomic<bool> set_up_failed{false};
  {
    std::vector<std::thread> threads;
    for (auto& p : all_producers)
      threads.emplace_back([&p, &set_up_failed] {
        if (!p->set_up()) set_up_failed = true;
      });
    for (auto& t : threads) t.join();
  }
  // Rates and CPU count from here: the transactions, not the set-up.
  CpuWindow cpu(o.broker_pid);
  const uint64_t t0 = now_ns();
  const uint64_t stop_ns = t0 + uint64_t((o.duration > 0 ? o.duration : 10.0) * 1e9);
  if (!set_up_failed) run_event_loop(all_producers, stop_ns);
  const double seconds = double(now_ns() - t0) / 1e9;
  std::string first_error;
  for (const auto& p : all_producers)
    if (first_error.empty() && !p->error().empty()) first_error = p->error();
  const uint64_t per_txn = uint64_t(batch_records) * uint64_t(parts);
  const double records = double(all.transactions * per_txn);
  const double bytes = records * double(o.record_size);
  Result r;
  r.str("label", o.label);
  r.num("partitions", parts);
  r.num("record_size", double(o.record_size));
  r.num("producers", producers);
  r.num("records_per_txn", double(per_txn));
  r.num("transactions", double(all.transactions));
  r.num("records", records);
  r.num("seconds", seconds);
  r.num("transactions_per_s", double(all.transactions) / seconds);
  r.num("records_per_s", records / seconds);
  r.num("mb_per_s", bytes / seconds / 1e6);
  r.num("concurrent_transactions_retries", double(all.retries));
  r.latency("txn_latency", all.txn);
  r.latency("add_partitions_latency", all.add);
  r.latency("produce_latency", all.produce);
  r.latency("end_txn_latency", all.end);
  cpu.report(r, seconds, bytes);
  if (!first_error.empty()) r.str("error", first_error);
  r.emit(o);
  return first_error.empty() ? 0 : 1;
}

}  // namespace runnel::bench
