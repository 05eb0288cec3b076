// runnel-bench's Kafka modes on librdkafka's C API: produce, consume (cold, assigned
// partitions, no group) and end-to-end latency at a fixed offered rate.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <thread>

#include "broker_stages.h"
#include "common.h"
#include "kafka_client.h"

namespace runnel::bench {

// ---------------------------------------------------------------- librdkafka helpers

void set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    die(fmt::format("{}={}: {}", k, v, err));
}

rd_kafka_conf_t* base_conf(const Options& o) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  set(c, "bootstrap.servers", o.bootstrap);
  set(c, "client.id", "runnel-bench");
  return c;
}

void apply_props(rd_kafka_conf_t* c, const Options& o) {
  for (auto& [k, v] : o.props) set(c, k, v);
}

rd_kafka_t* make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) die(fmt::format("rd_kafka_new: {}", err));
  return rk;
}

// Partition count of the topic as the broker reports it, or -1 if it does not exist.
int partition_count(rd_kafka_t* rk, const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  // All topics: asking for one named topic could auto-create it with the default count.
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  if (err) die(fmt::format("metadata: {}", rd_kafka_err2str(err)));
  int n = -1;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (topic == md->topics[i].topic && !md->topics[i].err) n = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

// Creates the topic with --partitions through the Admin API when it does not exist yet;
// returns its partition count.
int ensure_topic(const Options& o) {
  rd_kafka_conf_t* conf = base_conf(o);
  apply_props(conf, o);
  rd_kafka_t* rk = make_client(RD_KAFKA_PRODUCER, conf);
  int n = partition_count(rk, o.topic);
  if (n < 0 && o.partitions > 0) {
    char err[512];
    // Replication factor -1: the broker's default.replication.factor (KIP-464),
    // so that against a cluster (tools/cluster.sh: 3, with min.insync.replicas
    // 2) acks=all works rather than failing NOT_ENOUGH_REPLICAS forever.
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, -1, err, sizeof err);
    if (!nt) die(fmt::format("NewTopic: {}", err));
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    // Minutes, not seconds: 1,000 partitions take ~20 s to create on the dev VM's disk at a
    // slow hour (each partition's files are created and synced).
    rd_kafka_AdminOptions_set_operation_timeout(ao, 120000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(ao, 130000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 140000);
    if (!ev) die("CreateTopics: no answer in 140 s");
    if (rd_kafka_event_error(ev)) die(fmt::format("CreateTopics: {}", rd_kafka_event_error_string(ev)));
    size_t cnt = 0;
    const rd_kafka_topic_result_t** tr =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; ++i) {
      auto e = rd_kafka_topic_result_error(tr[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        die(fmt::format("CreateTopics {}: {}", o.topic, rd_kafka_err2str(e)));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < 100 && n < 0; ++i) {
      n = partition_count(rk, o.topic);
      if (n < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (n < 0) die(fmt::format("topic {} created but not in the metadata", o.topic));
  } else if (n > 0 && o.partitions > 0 && n != o.partitions) {
    fmt::print(stderr, "note: topic {} exists with {} partitions (asked for {}), using it as is\n", o.topic, n,
               o.partitions);
  }
  rd_kafka_destroy(rk);
  return n;  // -1: does not exist; the producer's first metadata request may auto-create it
}

namespace {

// ---------------------------------------------------------------- produce

struct ProducerState {
  Histogram ack_latency;
  uint64_t acked = 0, failed = 0;
  std::string first_error;
  bool copy_stamped = false;
};

struct Shared {
  std::atomic<uint64_t> sent{0}, acked{0}, failed{0}, txns{0};
};
Shared g_shared;

// Transactional calls return an error object; any failure ends the benchmark (a fenced or
// aborted transaction would make the throughput meaningless).
void txn_check(const char* what, rd_kafka_error_t* e) {
  if (!e) return;
  std::string msg = fmt::format("{}: {}", what, rd_kafka_error_string(e));
  rd_kafka_error_destroy(e);
  die(msg);
}

void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<ProducerState*>(opaque);
  if (m->err) {
    if (st->first_error.empty()) st->first_error = rd_kafka_err2str(m->err);
    ++st->failed;
    g_shared.failed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint64_t t0 = uint64_t(uintptr_t(m->_private));
  st->ack_latency.record(now_ns() - t0);
  ++st->acked;
  g_shared.acked.fetch_add(1, std::memory_order_relaxed);
}

rd_kafka_conf_t* producer_conf(const Options& o, ProducerState* st) {
  rd_kafka_conf_t* c = base_conf(o);
  set(c, "acks", o.acks);
  set(c, "compression.type", o.compression);
  int linger = o.linger_ms >= 0 ? o.linger_ms : (o.mode == "latency" ? 0 : -1);
  if (linger >= 0) set(c, "linger.ms", std::to_string(linger));
  if (o.mode == "latency") {
    // The Java producer's default (max.in.flight.requests.per.connection=5).
    // librdkafka's own default (1,000,000) sends whatever is queued the moment
    // anything is, so under load records queue as thousands of one-record
    // requests in flight instead of in batches: on the dev VM 50,000 rec/s
    // acks=all with linger 0 then lags by 0.4 s, and with 5 it has p50 1.8 ms.
    set(c, "max.in.flight", "5");
  }
  if (o.batch_size > 0) {
    set(c, "batch.size", std::to_string(o.batch_size));
    set(c, "batch.num.messages", "1000000");  // let batch.size decide
  }
  set(c, "queue.buffering.max.messages", "2000000");
  set(c, "queue.buffering.max.kbytes", "2097151");
  set(c, "message.timeout.ms", "120000");
  apply_props(c, o);
  rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
  rd_kafka_conf_set_opaque(c, st);
  return c;
}

// Paced or unpaced production of `count` records (UINT64_MAX: until `deadline`).
void produce_loop(const Options& o, rd_kafka_t* rk, rd_kafka_topic_t* rkt, uint64_t count, double rate, uint64_t start,
                  uint64_t deadline, const std::string& payload, bool stamp, int producer_id) {
  std::string buf = payload;
  uint64_t in_txn = 0;  // records produced in the open transaction
  for (uint64_t i = 0; i < count && !g_stop; ++i) {
    if (o.txn_records && in_txn == 0) txn_check("begin_transaction", rd_kafka_begin_transaction(rk));
    uint64_t t = now_ns();
    uint64_t due = t;
    if (rate > 0) {
      due = start + uint64_t(double(i) * 1e9 / rate);
      while (t < due && !g_stop) {
        rd_kafka_poll(rk, 0);
        uint64_t gap = due - now_ns();
        if (int64_t(gap) > 60000)
          std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(gap - 50000, 100000)));
        t = now_ns();
      }
    }
    if (deadline && t >= deadline) break;
    // Stamp the intended send time (not the actual one) so that a producer held up by
    // a slow broker shows up in the latency instead of hiding it (coordinated omission).
    uint64_t stamp_t = rate > 0 ? due : t;
    void* opaque = reinterpret_cast<void*>(uintptr_t(stamp_t));
    for (;;) {
      int rc;
      if (stamp) {
        uint64_t hdr[3] = {kMagic, stamp_t, (uint64_t(producer_id) << 48) | i};
        std::memcpy(buf.data(), hdr, std::min(buf.size(), sizeof hdr));
        rc = rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf.data(), buf.size(), nullptr, 0,
                              opaque);
      } else {
        // No copy: every record points at the same immutable payload.
        rc = rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, const_cast<char*>(payload.data()), payload.size(), nullptr,
                              0, opaque);
      }
      if (rc == 0) break;
      rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(fmt::format("produce: {}", rd_kafka_err2str(err)));
      rd_kafka_poll(rk, 1);
      if (g_stop) return;
    }
    g_shared.sent.fetch_add(1, std::memory_order_relaxed);
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    if (o.txn_records && ++in_txn == o.txn_records) {
      // Waits for every record of the transaction to be acknowledged, then EndTxn.
      txn_check("commit_transaction", rd_kafka_commit_transaction(rk, 60000));
      g_shared.txns.fetch_add(1, std::memory_order_relaxed);
      in_txn = 0;
    }
  }
  if (in_txn) {
    txn_check("commit_transaction", rd_kafka_commit_transaction(rk, 60000));
    g_shared.txns.fetch_add(1, std::memory_order_relaxed);
  }
}

struct ProduceOutcome {
  Histogram ack_latency;
  uint64_t acked = 0, failed = 0, sent = 0;
  double seconds = 0;       // first send to last acknowledgement
  double send_seconds = 0;  // first send to last send
  std::string first_error;
};

ProduceOutcome run_producers(const Options& o, bool stamp, uint64_t start_at = 0) {
  std::vector<ProducerState> states(o.producers);
  std::vector<rd_kafka_t*> rks;
  std::vector<rd_kafka_topic_t*> rkts;
  for (int p = 0; p < o.producers; ++p) {
    rd_kafka_conf_t* conf = producer_conf(o, &states[p]);
    if (o.txn_records) {
      set(conf, "transactional.id", fmt::format("runnel-bench-{}-{}", getpid(), p));
      // librdkafka requires message.timeout.ms <= transaction.timeout.ms (default 60 s).
      set(conf, "message.timeout.ms", "60000");
    }
    rd_kafka_t* rk = make_client(RD_KAFKA_PRODUCER, conf);
    if (o.txn_records) txn_check("init_transactions", rd_kafka_init_transactions(rk, 30000));
    rks.push_back(rk);
    rkts.push_back(rd_kafka_topic_new(rk, o.topic.c_str(), nullptr));
    // Connect and learn the partitions before the clock starts.
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, rkts.back(), &md, 10000) == 0) rd_kafka_metadata_destroy(md);
  }
  std::string payload = random_payload(o.record_size);
  if (start_at)
    while (now_ns() < start_at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t start = now_ns();
  uint64_t deadline = o.duration > 0 ? start + uint64_t(o.duration * 1e9) : 0;
  std::vector<std::thread> threads;
  std::atomic<int> running{o.producers};
  std::atomic<uint64_t> send_end{0};
  for (int p = 0; p < o.producers; ++p) {
    uint64_t n =
        o.records == UINT64_MAX ? UINT64_MAX : o.records / o.producers + (uint64_t(p) < o.records % o.producers);
    threads.emplace_back([&, p, n] {
      produce_loop(o, rks[p], rkts[p], n, o.rate / o.producers, start, deadline, payload, stamp, p);
      uint64_t sent_end = now_ns(), prev = send_end.load();
      while (prev < sent_end && !send_end.compare_exchange_weak(prev, sent_end)) {
      }
      rd_kafka_flush(rks[p], 120000);
      --running;
    });
  }
  IntervalRate produce_rate(o, start);
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t t = now_ns();
    const uint64_t a = g_shared.acked.load();
    if (auto per_s = produce_rate.tick(t, a))
      progress(o, o.mode.c_str(), double(t - start) / 1e9,
               fmt::format("sent {} acked {} failed {}  {:.0f} rec/s {:.1f} MB/s", g_shared.sent.load(), a,
                           g_shared.failed.load(), *per_s, *per_s * double(o.record_size) / 1e6));
  }
  for (auto& t : threads) t.join();
  ProduceOutcome out;
  out.seconds = double(now_ns() - start) / 1e9;
  out.send_seconds = double(send_end.load() - start) / 1e9;
  out.sent = g_shared.sent.load();
  for (int p = 0; p < o.producers; ++p) {
    out.ack_latency.merge(states[p].ack_latency);
    out.acked += states[p].acked;
    out.failed += states[p].failed;
    if (out.first_error.empty()) out.first_error = states[p].first_error;
    int left = rd_kafka_outq_len(rks[p]);
    if (left > 0) fmt::print(stderr, "producer {}: {} records still unacknowledged after flush\n", p, left);
    rd_kafka_topic_destroy(rkts[p]);
    rd_kafka_destroy(rks[p]);
  }
  return out;
}

void describe_config(Result& r, const Options& o, int partitions) {
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("topic", o.topic);
  r.num("partitions", partitions);
  r.num("record_size", double(o.record_size));
  r.num("producers", o.producers);
  r.str("acks", o.acks);
  r.str("compression", o.compression);
  r.num("linger_ms", o.linger_ms >= 0 ? o.linger_ms : (o.mode == "latency" ? 0 : -1));
  r.num("batch_size", o.batch_size);
}

}  // namespace

int mode_produce(const Options& o) {
  int parts = ensure_topic(o);
  BrokerStages stages(o);
  ProduceOutcome out = run_producers(o, false);
  if (parts < 0) parts = ensure_topic(o);
  Result r;
  describe_config(r, o, parts);
  r.num("rate_offered", o.rate);
  r.num("records", double(out.acked));
  r.num("failed", double(out.failed));
  if (!out.first_error.empty()) r.str("error", out.first_error);
  r.num("seconds", out.seconds);
  r.num("records_per_s", double(out.acked) / out.seconds);
  r.num("mb_per_s", double(out.acked) * double(o.record_size) / out.seconds / 1e6);
  if (o.txn_records) {
    r.num("records_per_txn", double(o.txn_records));
    r.num("transactions_per_s", double(g_shared.txns.load()) / out.seconds);
  }
  r.latency("ack_latency", out.ack_latency);
  stages.add_to(r);
  r.emit(o);
  return out.failed ? 1 : 0;
}

namespace {

// ---------------------------------------------------------------- consume

struct ConsumerSet {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* q = nullptr;
  int partitions = 0;
  std::vector<int64_t> low, high;
};

// A consumer assigned to every partition of the topic (no group), starting at `from_end`
// ? the current end : the start of each partition. The legacy per-partition queue API
// (as rdkafka_performance uses) needs no group.id, which assign() would.
ConsumerSet start_consumer(const Options& o, bool from_end) {
  ConsumerSet cs;
  rd_kafka_conf_t* c = base_conf(o);
  set(c, "enable.partition.eof", "true");
  set(c, "fetch.wait.max.ms", "100");
  set(c, "queued.min.messages", "1000000");
  set(c, "queued.max.messages.kbytes", "1048576");
  set(c, "fetch.message.max.bytes", "8388608");
  set(c, "fetch.max.bytes", "67108864");
  apply_props(c, o);
  cs.rk = make_client(RD_KAFKA_CONSUMER, c);
  cs.partitions = partition_count(cs.rk, o.topic);
  if (cs.partitions <= 0) die(fmt::format("topic {} does not exist", o.topic));
  rd_kafka_topic_conf_t* tc = rd_kafka_topic_conf_new();
  char err[512];
  rd_kafka_topic_conf_set(tc, "auto.offset.reset", "earliest", err, sizeof err);
  cs.rkt = rd_kafka_topic_new(cs.rk, o.topic.c_str(), tc);
  cs.q = rd_kafka_queue_new(cs.rk);
  cs.low.resize(cs.partitions), cs.high.resize(cs.partitions);
  for (int p = 0; p < cs.partitions; ++p) {
    auto e = rd_kafka_query_watermark_offsets(cs.rk, o.topic.c_str(), p, &cs.low[p], &cs.high[p], 10000);
    if (e) die(fmt::format("watermarks of {}/{}: {}", o.topic, p, rd_kafka_err2str(e)));
  }
  for (int p = 0; p < cs.partitions; ++p) {
    int64_t off = from_end ? cs.high[p] : RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_consume_start_queue(cs.rkt, p, off, cs.q) != 0)
      die(fmt::format("consume_start {}/{}: {}", o.topic, p, rd_kafka_err2str(rd_kafka_last_error())));
  }
  return cs;
}

void stop_consumer(ConsumerSet& cs) {
  for (int p = 0; p < cs.partitions; ++p) rd_kafka_consume_stop(cs.rkt, p);
  rd_kafka_queue_destroy(cs.q);
  rd_kafka_topic_destroy(cs.rkt);
  rd_kafka_destroy(cs.rk);
}

}  // namespace

int mode_consume(const Options& o) {
  uint64_t t_start = now_ns();
  ConsumerSet cs = start_consumer(o, false);
  uint64_t in_log = 0;
  for (int p = 0; p < cs.partitions; ++p) in_log += uint64_t(cs.high[p] - cs.low[p]);
  uint64_t target = o.records_given ? std::min<uint64_t>(o.records, in_log) : in_log;
  std::vector<bool> at_end(cs.partitions, false);
  std::vector<rd_kafka_message_t*> batch(10000);
  uint64_t count = 0, bytes = 0, first_msg = 0, last_msg = 0, errors = 0;
  std::string first_error;
  IntervalRate consume_rate(o, t_start);
  uint64_t deadline = o.duration > 0 ? t_start + uint64_t(o.duration * 1e9) : 0;
  uint64_t idle_since = now_ns();
  while (count < target && !g_stop) {
    // What is there, without waiting (a blocking consume_batch_queue() waits for a full
    // batch or its timeout, which would be counted as consume time); else wait for one.
    ssize_t n = rd_kafka_consume_batch_queue(cs.q, 0, batch.data(), batch.size());
    if (n <= 0) {
      n = 0;
      if (rd_kafka_message_t* m = rd_kafka_consume_queue(cs.q, 100)) batch[0] = m, n = 1;
    }
    uint64_t t = now_ns();
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->partition >= 0 && m->partition < cs.partitions && m->offset >= cs.high[m->partition])
          at_end[m->partition] = true;
      } else if (m->err) {
        ++errors;
        if (first_error.empty()) first_error = rd_kafka_message_errstr(m);
      } else {
        if (!first_msg) first_msg = t;
        ++count;
        bytes += m->len;
      }
      rd_kafka_message_destroy(m);
    }
    if (n > 0) idle_since = t, last_msg = t;
    if (std::all_of(at_end.begin(), at_end.end(), [](bool b) { return b; })) break;
    if (t - idle_since > 30'000'000'000ull) {
      fmt::print(stderr, "consume: nothing for 30 s, giving up at {} of {}\n", count, target);
      break;
    }
    if (deadline && t >= deadline) break;
    if (auto per_s = consume_rate.tick(t, count))
      progress(o, "consume", double(t - t_start) / 1e9,
               fmt::format("{} of {}  {:.0f} rec/s {:.1f} MB/s", count, target, *per_s,
                           *per_s * double(o.record_size) / 1e6));
  }
  stop_consumer(cs);
  double secs = double((last_msg ? last_msg : now_ns()) - t_start) / 1e9;
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("topic", o.topic);
  r.num("partitions", cs.partitions);
  r.num("records_in_log", double(in_log));
  r.num("records", double(count));
  r.num("bytes", double(bytes));
  r.num("errors", double(errors));
  if (!first_error.empty()) r.str("error", first_error);
  r.num("seconds", secs);  // from creating the consumer (cold) to the last record
  r.num("records_per_s", double(count) / secs);
  r.num("mb_per_s", double(bytes) / secs / 1e6);
  if (first_msg) r.num("first_record_ms", double(first_msg - t_start) / 1e6);
  if (last_msg > first_msg && first_msg)  // the steady state, without connecting and the first fetch
    r.num("records_per_s_after_first", double(count) / (double(last_msg - first_msg) / 1e9));
  r.emit(o);
  return count < target ? 1 : 0;
}

namespace {

// ---------------------------------------------------------------- latency

}  // namespace

int mode_latency(const Options& o0) {
  Options o = o0;
  if (o.rate <= 0) die("latency needs --rate");
  if (o.record_size < 24) die("latency needs --record-size >= 24 (the stamp)");
  if (o.duration <= 0 && !o.records_given) o.duration = 10, o.records = UINT64_MAX;
  int parts = ensure_topic(o);
  if (parts < 0) die(fmt::format("topic {} does not exist and --partitions was not given", o.topic));
  ConsumerSet cs = start_consumer(o, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // fetch sessions up
  BrokerStages stages(o);

  std::atomic<bool> producing_done{false};
  Histogram e2e;
  uint64_t received = 0, foreign = 0, errors = 0;
  std::string first_error;
  uint64_t start = now_ns() + 200'000'000ull;  // producers connect before this
  uint64_t warm_end = start + uint64_t(o.warmup * 1e9);
  std::thread consumer([&] {
    uint64_t done_at = 0;
    for (;;) {
      // One message at a time: consume_batch_queue() waits for a full batch or its
      // timeout, which would add up to the timeout to every measured latency.
      rd_kafka_message_t* m = rd_kafka_consume_queue(cs.q, 20);
      uint64_t t = now_ns();
      if (m) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        } else if (m->err) {
          ++errors;
          if (first_error.empty()) first_error = rd_kafka_message_errstr(m);
        } else if (m->len >= 24) {
          uint64_t hdr[3];
          std::memcpy(hdr, m->payload, sizeof hdr);
          if (hdr[0] != kMagic) {
            ++foreign;
          } else {
            ++received;
            if (hdr[1] >= warm_end) e2e.record(t - hdr[1]);
          }
        }
        rd_kafka_message_destroy(m);
      }
      if (producing_done && !done_at) done_at = t;
      if (done_at && (received >= g_shared.acked.load() || t - done_at > 10'000'000'000ull || g_stop)) break;
    }
  });
  ProduceOutcome out = run_producers(o, true, start);
  producing_done = true;
  consumer.join();
  stop_consumer(cs);
  Result r;
  describe_config(r, o, parts);
  r.num("rate_offered", o.rate);
  r.num("rate_achieved", double(out.sent) / out.send_seconds);
  r.num("records", double(out.acked));
  r.num("received", double(received));
  r.num("failed", double(out.failed));
  r.num("consume_errors", double(errors));
  if (!out.first_error.empty()) r.str("error", out.first_error);
  if (!first_error.empty()) r.str("consume_error", first_error);
  r.num("seconds", out.seconds);
  r.num("warmup_s", o.warmup);
  r.num("records_per_s", double(out.acked) / out.seconds);
  r.num("mb_per_s", double(out.acked) * double(o.record_size) / out.seconds / 1e6);
  r.latency("e2e_latency", e2e);
  r.latency("ack_latency", out.ack_latency);
  stages.add_to(r);
  r.emit(o);
  return (out.failed || received < out.acked) ? 1 : 0;
}

namespace {}  // namespace
}  // namespace runnel::bench
