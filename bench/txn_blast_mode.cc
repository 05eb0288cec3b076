// runnel-bench txn-blast: a lean transactional producer (issue 12), to
// measure what the broker does per transaction without librdkafka's CPU on
// the two cores it shares with the broker.
//
// --producers threads, each its own connection and transactional id
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
// Reports transactions/s, records/s, the latency of a whole transaction and
// of each request kind, client CPU and, with --broker-pid, broker CPU.
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
  std::string error;
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

// One transactional producer: runs until `stop_ns` (or g_stop).
void run_producer(const Options& o, int parts, int batch_records, const std::string& txn_id, uint64_t stop_ns,
                  const std::string& value, ProducerStats& st) {
  auto fail = [&](const std::string& what) { st.error = txn_id + ": " + what; };
  int32_t corr = 1;
  Conn bootstrap(at(o, o.bootstrap.substr(0, o.bootstrap.find(','))));
  const Leaders leaders = find_leaders(bootstrap, corr, o.topic, parts);
  if (leaders.partitions_of.empty()) return fail("Metadata: a partition of " + o.topic + " has no leader");
  int16_t coordinator_error = 0;
  const std::string coordinator = find_coordinator(bootstrap, corr, txn_id, coordinator_error);
  if (coordinator.empty()) return fail(fmt::format("FindCoordinator: error {}", coordinator_error));
  // One connection per broker this producer talks to.
  std::map<std::string, std::unique_ptr<Conn>> conns;
  auto conn_to = [&](const std::string& address) -> Conn& {
    auto& slot = conns[address];
    if (!slot) slot = std::make_unique<Conn>(at(o, address));
    return *slot;
  };
  Conn& c = conn_to(coordinator);

  // InitProducerId v1 with the transactional id (retried while the broker
  // creates and loads __transaction_state, or a previous instance's
  // transaction is aborted).
  int64_t producer_id = -1;
  int16_t epoch = -1;
  for (int attempt = 0;; ++attempt) {
    Enc init = request_start(22, 1, corr);
    init.str(txn_id);
    init.i32(60000);
    auto body = c.round_trip(finish(init), corr++);
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

  // The three requests, encoded once; correlation ids and sequences patched in.
  Enc add = request_start(24, 2, 0);
  add.str(txn_id);
  add.i64(producer_id);
  add.i16(epoch);
  add.i32(1);
  add.str(o.topic);
  add.i32(parts);
  for (int p = 0; p < parts; ++p) add.i32(p);
  std::string add_request = finish(add);

  std::string batch = record_batch(batch_records, value, wall_ms());
  put_be(batch, kBatchAttributesAt, 0x10, 2);  // transactional
  put_be(batch, kBatchProducerIdAt, uint64_t(producer_id), 8);
  put_be(batch, kBatchProducerIdAt + 8, uint64_t(uint16_t(epoch)), 2);
  // One Produce per leader: where its batches sit, and its connection.
  struct LeaderProduce {
    Conn* conn;
    std::string request;
    std::vector<size_t> batch_at;
  };
  std::vector<LeaderProduce> produces;
  for (const auto& [leader, partitions] : leaders.partitions_of) {
    LeaderProduce lp{&conn_to(leaders.address.at(leader)), {}, {}};
    lp.request = produce_request(txn_id, /*acks=all*/ -1, o.topic, partitions, batch, lp.batch_at);
    produces.push_back(std::move(lp));
  }

  Enc end = request_start(26, 1, 0);
  end.str(txn_id);
  end.i64(producer_id);
  end.i16(epoch);
  end.i8(1);  // commit
  std::string end_request = finish(end);

  // Sends `request` until it is not answered CONCURRENT_TRANSACTIONS; the
  // error code is read by `error_of` from the body after the correlation id.
  auto exchange = [&](std::string& request, Histogram& h, auto error_of) -> int16_t {
    for (;;) {
      put_be(request, 8, uint32_t(corr), 4);
      const uint64_t t0 = now_ns();
      auto body = c.round_trip(request, corr++);
      h.record(now_ns() - t0);
      Dec d{body.data() + 4, body.data() + body.size()};
      int16_t err = error_of(d);
      if (err != kConcurrentTransactions) return err;
      ++st.retries;
    }
  };
  // The first partition error that is not NONE in a topics[partitions[index,
  // error, ...]] response; `rest` reads what follows a partition's error.
  auto first_partition_error = [](Dec& d, auto rest) -> int16_t {
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
  auto add_error = [&](Dec& d) -> int16_t {
    d.i32();  // throttle
    return first_partition_error(d, [](Dec&) {});
  };
  auto produce_error = [&](Dec& d) -> int16_t {
    return first_partition_error(d, [](Dec& p) {
      p.skip(8 + 8 + 8);  // base offset, log append time, log start offset
      for (int32_t k = std::max(0, p.i32()); k > 0; --k) p.i32(), p.str();
      p.str();  // error message
    });
  };
  auto end_error = [&](Dec& d) -> int16_t {
    d.i32();  // throttle
    return d.i16();
  };

  uint64_t sequence = 0;  // per partition: every partition gets the same batches
  while (now_ns() < stop_ns && !g_stop) {
    const uint64_t t0 = now_ns();
    if (int16_t e = exchange(add_request, st.add, add_error)) return fail(fmt::format("AddPartitionsToTxn: {}", e));
    // Every leader's Produce goes out before the first response is read.
    const uint64_t produce_t0 = now_ns();
    const int32_t first_corr = corr;
    for (auto& lp : produces) {
      put_be(lp.request, 8, uint32_t(corr++), 4);
      for (size_t at : lp.batch_at) {
        put_be(lp.request, at + kBatchBaseSequenceAt, uint32_t(sequence % (uint64_t(1) << 31)), 4);
        const auto* from = reinterpret_cast<const uint8_t*>(lp.request.data()) + at + kBatchAttributesAt;
        put_be(lp.request, at + kBatchCrcAt, crc32c_of(from, batch.size() - kBatchAttributesAt), 4);
      }
      lp.conn->write(lp.request);
    }
    int16_t produce_failed = 0;
    for (size_t i = 0; i < produces.size(); ++i) {
      std::vector<uint8_t> body;
      produces[i].conn->read_response(body);
      Dec d{body.data(), body.data() + body.size()};
      if (d.i32() != first_corr + int32_t(i)) die("txn-blast: response out of order");
      if (int16_t e = produce_error(d); e && !produce_failed) produce_failed = e;
    }
    st.produce.record(now_ns() - produce_t0);
    if (produce_failed) return fail(fmt::format("Produce: {}", produce_failed));
    sequence += uint64_t(batch_records);
    if (int16_t e = exchange(end_request, st.end, end_error)) return fail(fmt::format("EndTxn: {}", e));
    st.txn.record(now_ns() - t0);
    ++st.transactions;
  }
}

}  // namespace

int mode_txn_blast(const Options& o) {
  const int batch_records = o.batch_records > 0 ? o.batch_records : 100;
  const int parts = ensure_topic(o);
  if (parts <= 0) die("txn-blast: topic " + o.topic + " does not exist and --partitions was not given");
  const int producers = std::max(1, o.producers);
  const std::string value = random_payload(o.record_size);
  const std::string run = std::to_string(wall_ms());
  std::vector<ProducerStats> stats(static_cast<size_t>(producers));
  CpuWindow cpu(o.broker_pid);
  const uint64_t t0 = now_ns();
  const uint64_t stop_ns = t0 + uint64_t((o.duration > 0 ? o.duration : 10.0) * 1e9);
  std::vector<std::thread> threads;
  for (int i = 0; i < producers; ++i)
    threads.emplace_back([&, i] {
      run_producer(o, parts, batch_records, fmt::format("txn-blast-{}-{}", run, i), stop_ns, value, stats[size_t(i)]);
    });
  for (auto& t : threads) t.join();
  const double seconds = double(now_ns() - t0) / 1e9;

  ProducerStats all;
  std::string first_error;
  for (auto& s : stats) {
    all.transactions += s.transactions;
    all.retries += s.retries;
    all.txn.merge(s.txn);
    all.add.merge(s.add);
    all.produce.merge(s.produce);
    all.end.merge(s.end);
    if (first_error.empty() && !s.error.empty()) first_error = s.error;
  }
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
