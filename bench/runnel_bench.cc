// runnel-bench: throughput and latency of a Kafka-protocol broker, driven with librdkafka's
// C API, in the spirit of kafka-producer-perf-test and rdkafka_performance. Also drives the
// peers the suite compares against (NATS JetStream over its own wire protocol) and times a
// broker's start-up. `runnel-bench --help` lists modes and options.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <librdkafka/rdkafka.h>

#include "histogram.h"

namespace runnel::bench {
namespace {

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct Options {
  std::string mode;
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "runnel-bench";
  uint64_t records = 1000000;
  bool records_given = false;
  size_t record_size = 100;
  int partitions = 0;  // 0: use the topic as it is (create with the broker default)
  int producers = 1;
  std::string acks = "all";
  std::string compression = "none";
  int linger_ms = -1;   // -1: librdkafka's default (latency mode: 0)
  int batch_size = -1;  // -1: librdkafka's default
  double rate = 0;      // records/s over all producers; 0 = as fast as possible
  double duration = 0;  // seconds; 0 = until --records
  double warmup = 1.0;  // latency mode: seconds of records left out of the percentiles
  double interval = 1.0;
  std::string json;  // file to write the JSON result to ("-" = stdout)
  std::string label;
  bool quiet = false;
  int window = 4000;  // nats: publishes awaiting their ack
  int repeat = 5;     // startup
  std::vector<std::pair<std::string, std::string>> props;  // -X key=value
  std::vector<std::string> command;                        // startup: after --
};

[[noreturn]] void usage(int rc) {
  fmt::print(rc ? stderr : stdout, R"(usage: runnel-bench MODE [options]

modes:
  produce    produce --records records (or for --duration s) and report records/s, MB/s and
             the produce->ack latency percentiles
  consume    read the topic from the start of every partition with a cold consumer (assigned
             partitions, no consumer group) until --records or the end of the log
  latency    end to end: producers stamp the send time into the value at a fixed --rate, a
             consumer assigned to every partition computes p50/p99/p99.9/max
  nats       publish to a NATS JetStream stream (file storage) with its own wire protocol,
             --window publishes awaiting their PubAck (--bootstrap is the NATS server)
  startup    run the command after -- --repeat times, report the time from exec to the first
             accepted TCP connection on --bootstrap, then stop it with SIGTERM

options:
  --bootstrap HOST:PORT   broker (default 127.0.0.1:9092)
  --topic NAME            topic (default runnel-bench); nats: stream and subject name
  --records N             records to produce/consume (default 1000000)
  --record-size BYTES     value size (default 100)
  --partitions N          create the topic with N partitions via the Admin API if missing
  --producers N           producer instances, one thread each (default 1)
  --acks 0|1|all          (default all)
  --compression C         none|gzip|snappy|lz4|zstd (default none)
  --linger-ms MS          linger.ms (default: librdkafka's, 0 in latency mode)
  --batch-size BYTES      batch.size
  --rate R                offered load in records/s over all producers (latency: required)
  --duration S            run for S seconds (stops at --records too if given)
  --warmup S              latency: leave the first S seconds out (default 1)
  --interval S            progress line every S seconds on stderr (default 1)
  -X key=value            any other librdkafka property
  --window N              nats: outstanding publishes (default 4000)
  --repeat N              startup: runs (default 5)
  --label TEXT            name of the workload in the output
  --json FILE             also write the result as JSON (FILE "-" = stdout)
  --quiet                 no progress lines
)");
  std::exit(rc);
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage(2);
  o.mode = argv[1];
  if (o.mode == "-h" || o.mode == "--help") usage(0);
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "missing value for {}\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--") {
      for (++i; i < argc; ++i) o.command.push_back(argv[i]);
    } else if (a == "-h" || a == "--help") usage(0);
    else if (a == "--bootstrap") o.bootstrap = val();
    else if (a == "--topic") o.topic = val();
    else if (a == "--records") o.records = std::stoull(val()), o.records_given = true;
    else if (a == "--record-size") o.record_size = std::stoul(val());
    else if (a == "--partitions") o.partitions = std::stoi(val());
    else if (a == "--producers") o.producers = std::max(1, std::stoi(val()));
    else if (a == "--acks") o.acks = val();
    else if (a == "--compression") o.compression = val();
    else if (a == "--linger-ms") o.linger_ms = std::stoi(val());
    else if (a == "--batch-size") o.batch_size = std::stoi(val());
    else if (a == "--rate") o.rate = std::stod(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--warmup") o.warmup = std::stod(val());
    else if (a == "--interval") o.interval = std::stod(val());
    else if (a == "--window") o.window = std::max(1, std::stoi(val()));
    else if (a == "--repeat") o.repeat = std::max(1, std::stoi(val()));
    else if (a == "--label") o.label = val();
    else if (a == "--json") o.json = val();
    else if (a == "--quiet") o.quiet = true;
    else if (a == "-X") {
      std::string kv = val();
      auto eq = kv.find('=');
      if (eq == std::string::npos) usage(2);
      o.props.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else {
      fmt::print(stderr, "unknown option {}\n", a);
      usage(2);
    }
  }
  if (o.duration > 0 && !o.records_given) o.records = UINT64_MAX;
  if (o.label.empty()) o.label = o.mode;
  return o;
}

// ---------------------------------------------------------------- results

// One result: a flat list of named numbers and strings, printed as a table and as JSON.
struct Result {
  std::vector<std::pair<std::string, std::string>> fields;  // value already JSON-encoded
  void num(const std::string& k, double v) {
    fields.emplace_back(k, (v == double(int64_t(v)) && std::abs(v) < 1e15)
                               ? fmt::format("{}", int64_t(v))
                               : fmt::format("{:.3f}", v));
  }
  void str(const std::string& k, const std::string& v) {
    std::string e = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') e += '\\', e += c;
      else if (uint8_t(c) < 0x20) e += fmt::format("\\u{:04x}", int(c));
      else e += c;
    }
    fields.emplace_back(k, e + "\"");
  }
  void latency(const std::string& prefix, const Histogram& h) {
    num(prefix + "_count", double(h.count()));
    num(prefix + "_p50_ms", double(h.percentile(0.50)) / 1e6);
    num(prefix + "_p99_ms", double(h.percentile(0.99)) / 1e6);
    num(prefix + "_p999_ms", double(h.percentile(0.999)) / 1e6);
    num(prefix + "_max_ms", double(h.max()) / 1e6);
    num(prefix + "_mean_ms", h.mean() / 1e6);
  }
  void emit(const Options& o) const {
    size_t w = 0;
    for (auto& [k, v] : fields) w = std::max(w, k.size());
    fmt::print("\n== {} ==\n", o.label);
    for (auto& [k, v] : fields) {
      std::string s = v;
      if (s.size() >= 2 && s.front() == '"') s = s.substr(1, s.size() - 2);
      fmt::print("  {:<{}}  {}\n", k, w, s);
    }
    std::fflush(stdout);
    if (o.json.empty()) return;
    std::string j = "{";
    for (size_t i = 0; i < fields.size(); ++i)
      j += fmt::format("{}\"{}\": {}", i ? ", " : "", fields[i].first, fields[i].second);
    j += "}\n";
    if (o.json == "-") {
      fmt::print("{}", j);
    } else if (FILE* f = std::fopen(o.json.c_str(), "w")) {
      std::fputs(j.c_str(), f);
      std::fclose(f);
    } else {
      fmt::print(stderr, "cannot write {}: {}\n", o.json, std::strerror(errno));
    }
  }
};

void progress(const Options& o, const char* what, double t, const std::string& line) {
  if (o.quiet) return;
  fmt::print(stderr, "[{} {:6.1f}s] {}\n", what, t, line);
}

// ---------------------------------------------------------------- librdkafka helpers

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "runnel-bench: {}\n", what);
  std::exit(1);
}

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
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, err, sizeof err);
    if (!nt) die(fmt::format("NewTopic: {}", err));
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
    if (!ev) die("CreateTopics: no answer in 15 s");
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
    fmt::print(stderr, "note: topic {} exists with {} partitions (asked for {}), using it as is\n",
               o.topic, n, o.partitions);
  }
  rd_kafka_destroy(rk);
  return n;  // -1: does not exist; the producer's first metadata request may auto-create it
}

// ---------------------------------------------------------------- produce

constexpr uint64_t kMagic = 0x72756e6e656c4231ull;  // "runnelB1": a latency-stamped value

struct ProducerState {
  Histogram ack_latency;
  uint64_t acked = 0, failed = 0;
  std::string first_error;
  bool copy_stamped = false;
};

struct Shared {
  std::atomic<uint64_t> sent{0}, acked{0}, failed{0};
};
Shared g_shared;

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

std::string random_payload(size_t n) {
  // Like kafka-producer-perf-test: random upper-case letters (compressible, not trivially).
  std::mt19937_64 rng(42);
  std::string s(n, 'A');
  for (auto& c : s) c = char('A' + rng() % 26);
  return s;
}

// Paced or unpaced production of `count` records (UINT64_MAX: until `deadline`).
void produce_loop(const Options& o, rd_kafka_t* rk, rd_kafka_topic_t* rkt, uint64_t count,
                  double rate, uint64_t start, uint64_t deadline, const std::string& payload,
                  bool stamp, int producer_id) {
  std::string buf = payload;
  for (uint64_t i = 0; i < count && !g_stop; ++i) {
    uint64_t t = now_ns();
    uint64_t due = t;
    if (rate > 0) {
      due = start + uint64_t(double(i) * 1e9 / rate);
      while (t < due && !g_stop) {
        rd_kafka_poll(rk, 0);
        uint64_t gap = due - now_ns();
        if (int64_t(gap) > 60000) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(gap - 50000, 1000000)));
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
        rc = rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf.data(), buf.size(),
                              nullptr, 0, opaque);
      } else {
        // No copy: every record points at the same immutable payload.
        rc = rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, const_cast<char*>(payload.data()),
                              payload.size(), nullptr, 0, opaque);
      }
      if (rc == 0) break;
      rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(fmt::format("produce: {}", rd_kafka_err2str(err)));
      rd_kafka_poll(rk, 1);
      if (g_stop) return;
    }
    g_shared.sent.fetch_add(1, std::memory_order_relaxed);
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
}

struct ProduceOutcome {
  Histogram ack_latency;
  uint64_t acked = 0, failed = 0, sent = 0;
  double seconds = 0;
  std::string first_error;
};

ProduceOutcome run_producers(const Options& o, bool stamp, uint64_t start_at = 0) {
  std::vector<ProducerState> states(o.producers);
  std::vector<rd_kafka_t*> rks;
  std::vector<rd_kafka_topic_t*> rkts;
  for (int p = 0; p < o.producers; ++p) {
    rd_kafka_t* rk = make_client(RD_KAFKA_PRODUCER, producer_conf(o, &states[p]));
    rks.push_back(rk);
    rkts.push_back(rd_kafka_topic_new(rk, o.topic.c_str(), nullptr));
    // Connect and learn the partitions before the clock starts.
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, rkts.back(), &md, 10000) == 0) rd_kafka_metadata_destroy(md);
  }
  std::string payload = random_payload(o.record_size);
  if (start_at) while (now_ns() < start_at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t start = now_ns();
  uint64_t deadline = o.duration > 0 ? start + uint64_t(o.duration * 1e9) : 0;
  std::vector<std::thread> threads;
  std::atomic<int> running{o.producers};
  for (int p = 0; p < o.producers; ++p) {
    uint64_t n = o.records == UINT64_MAX ? UINT64_MAX
                                         : o.records / o.producers + (uint64_t(p) < o.records % o.producers);
    threads.emplace_back([&, p, n] {
      produce_loop(o, rks[p], rkts[p], n, o.rate / o.producers, start, deadline, payload, stamp, p);
      rd_kafka_flush(rks[p], 120000);
      --running;
    });
  }
  uint64_t last = start, last_acked = 0;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t t = now_ns();
    if (double(t - last) / 1e9 >= o.interval) {
      uint64_t a = g_shared.acked.load();
      double r = double(a - last_acked) / (double(t - last) / 1e9);
      progress(o, o.mode.c_str(), double(t - start) / 1e9,
               fmt::format("sent {} acked {} failed {}  {:.0f} rec/s {:.1f} MB/s", g_shared.sent.load(), a,
                           g_shared.failed.load(), r, r * double(o.record_size) / 1e6));
      last = t, last_acked = a;
    }
  }
  for (auto& t : threads) t.join();
  ProduceOutcome out;
  out.seconds = double(now_ns() - start) / 1e9;
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

int mode_produce(const Options& o) {
  int parts = ensure_topic(o);
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
  r.latency("ack_latency", out.ack_latency);
  r.emit(o);
  return out.failed ? 1 : 0;
}

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
  uint64_t last = t_start, last_count = 0;
  uint64_t deadline = o.duration > 0 ? t_start + uint64_t(o.duration * 1e9) : 0;
  uint64_t idle_since = now_ns();
  while (count < target && !g_stop) {
    ssize_t n = rd_kafka_consume_batch_queue(cs.q, 200, batch.data(), batch.size());
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
    if (double(t - last) / 1e9 >= o.interval) {
      double r = double(count - last_count) / (double(t - last) / 1e9);
      progress(o, "consume", double(t - t_start) / 1e9,
               fmt::format("{} of {}  {:.0f} rec/s {:.1f} MB/s", count, target, r, r * double(o.record_size) / 1e6));
      last = t, last_count = count;
    }
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
  r.emit(o);
  return count < target ? 1 : 0;
}

// ---------------------------------------------------------------- latency

int mode_latency(const Options& o0) {
  Options o = o0;
  if (o.rate <= 0) die("latency needs --rate");
  if (o.record_size < 24) die("latency needs --record-size >= 24 (the stamp)");
  if (o.duration <= 0 && !o.records_given) o.duration = 10, o.records = UINT64_MAX;
  int parts = ensure_topic(o);
  if (parts < 0) die(fmt::format("topic {} does not exist and --partitions was not given", o.topic));
  ConsumerSet cs = start_consumer(o, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // fetch sessions up

  std::atomic<bool> producing_done{false};
  Histogram e2e;
  uint64_t received = 0, foreign = 0, errors = 0;
  std::string first_error;
  uint64_t start = now_ns() + 200'000'000ull;  // producers connect before this
  uint64_t warm_end = start + uint64_t(o.warmup * 1e9);
  std::thread consumer([&] {
    std::vector<rd_kafka_message_t*> batch(10000);
    uint64_t done_at = 0;
    for (;;) {
      ssize_t n = rd_kafka_consume_batch_queue(cs.q, 50, batch.data(), batch.size());
      uint64_t t = now_ns();
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = batch[i];
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
  r.num("rate_achieved", double(out.sent) / out.seconds);
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
  r.emit(o);
  return (out.failed || received < out.acked) ? 1 : 0;
}

// ---------------------------------------------------------------- sockets

int connect_tcp(const std::string& hostport, bool quiet = false) {
  auto colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) die("cannot resolve " + hostport);
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0 && !quiet) die(fmt::format("connect {}: {}", hostport, std::strerror(errno)));
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

void write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die(fmt::format("write: {}", std::strerror(errno)));
    }
    p += w, n -= size_t(w);
  }
}

// ---------------------------------------------------------------- nats (JetStream)

// A minimal NATS client: the text protocol (INFO/CONNECT/PUB/SUB/MSG/PING/PONG), enough
// to create a file-storage stream and publish to it with a window of outstanding acks, as
// nats.go's PublishAsync does. Each publish carries its sequence number in its reply
// subject, so the PubAck that comes back tells which publish it acknowledges.
class NatsConn {
 public:
  explicit NatsConn(const std::string& addr) : fd_(connect_tcp(addr)) {
    std::string info = read_line();
    if (info.rfind("INFO", 0) != 0) die("nats: expected INFO, got " + info);
    send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,"
         "\"protocol\":1,\"name\":\"runnel-bench\"}\r\nPING\r\n");
    for (;;) {
      std::string l = read_line();
      if (l == "PONG") break;
      if (l.rfind("-ERR", 0) == 0) die("nats: " + l);
    }
  }
  ~NatsConn() { close(fd_); }

  void send(const std::string& s) {
    std::lock_guard<std::mutex> g(wmu_);
    write_all(fd_, s.data(), s.size());
  }
  void send_raw(const char* p, size_t n) {
    std::lock_guard<std::mutex> g(wmu_);
    write_all(fd_, p, n);
  }

  // Reads one protocol message. For MSG/HMSG fills subject and payload; handles PING.
  // Returns the verb ("MSG", "+OK", "-ERR ...", ...).
  std::string next(std::string& subject, std::string& payload) {
    for (;;) {
      std::string l = read_line();
      if (l == "PING") {
        send("PONG\r\n");
        continue;
      }
      if (l.rfind("MSG ", 0) == 0 || l.rfind("HMSG ", 0) == 0) {
        // MSG <subject> <sid> [reply] <#bytes> / HMSG <subject> <sid> [reply] <#hdr> <#total>
        std::vector<std::string> parts;
        size_t i = 0;
        while (i < l.size()) {
          size_t j = l.find(' ', i);
          if (j == std::string::npos) j = l.size();
          if (j > i) parts.push_back(l.substr(i, j - i));
          i = j + 1;
        }
        subject = parts.at(1);
        size_t total = std::stoul(parts.back());
        std::string body = read_exact(total + 2);
        if (parts[0] == "HMSG") {
          size_t hdr = std::stoul(parts[parts.size() - 2]);
          payload = body.substr(hdr, total - hdr);
          if (hdr > 0 && total == hdr) payload = body.substr(0, hdr);  // status-only (e.g. 503)
        } else {
          payload = body.substr(0, total);
        }
        return parts[0];
      }
      return l;
    }
  }

  std::string request(const std::string& subject, const std::string& body) {
    send(fmt::format("SUB _INBOX.req 1\r\nPUB {} _INBOX.req {}\r\n{}\r\n", subject, body.size(), body));
    std::string subj, payload;
    for (;;) {
      std::string v = next(subj, payload);
      if ((v == "MSG" || v == "HMSG") && subj == "_INBOX.req") break;
      if (v.rfind("-ERR", 0) == 0) die("nats: " + v);
    }
    send("UNSUB 1\r\n");
    return payload;
  }

 private:
  bool fill() {
    if (rpos_ > 0 && rpos_ == rbuf_.size()) rbuf_.clear(), rpos_ = 0;
    if (rpos_ > (1 << 20)) rbuf_.erase(0, rpos_), rpos_ = 0;
    char tmp[1 << 16];
    ssize_t n;
    do n = ::read(fd_, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n <= 0) die("nats: connection closed");
    rbuf_.append(tmp, size_t(n));
    return true;
  }
  std::string read_line() {
    for (;;) {
      size_t e = rbuf_.find("\r\n", rpos_);
      if (e != std::string::npos) {
        std::string l = rbuf_.substr(rpos_, e - rpos_);
        rpos_ = e + 2;
        return l;
      }
      fill();
    }
  }
  std::string read_exact(size_t n) {
    while (rbuf_.size() - rpos_ < n) fill();
    std::string s = rbuf_.substr(rpos_, n);
    rpos_ += n;
    return s;
  }

  int fd_;
  std::mutex wmu_;
  std::string rbuf_;
  size_t rpos_ = 0;
};

int mode_nats(const Options& o) {
  NatsConn nc(o.bootstrap);
  std::string stream = o.topic;
  for (auto& c : stream)
    if (!isalnum(uint8_t(c)) && c != '_' && c != '-') c = '_';
  std::string cfg = fmt::format(
      "{{\"name\":\"{}\",\"subjects\":[\"{}.>\"],\"storage\":\"file\",\"retention\":\"limits\","
      "\"discard\":\"old\",\"num_replicas\":1}}",
      stream, stream);
  std::string resp = nc.request("$JS.API.STREAM.CREATE." + stream, cfg);
  if (resp.find("\"error\"") != std::string::npos && resp.find("already in use") == std::string::npos)
    die("nats: stream create: " + resp);

  uint64_t total = o.records == UINT64_MAX ? UINT64_MAX : o.records;
  std::vector<uint64_t> sent_at;
  if (total != UINT64_MAX) sent_at.resize(total);
  std::atomic<uint64_t> acked{0}, failed{0}, sent{0};
  std::atomic<bool> writer_done{false};
  std::string first_error;
  Histogram lat;
  nc.send("SUB _INBOX.bench.* 2\r\n");
  uint64_t start = now_ns();
  uint64_t deadline = o.duration > 0 ? start + uint64_t(o.duration * 1e9) : 0;

  std::thread reader([&] {
    std::string subj, payload;
    while (!(writer_done && acked + failed >= sent)) {
      std::string v = nc.next(subj, payload);
      if (v == "MSG" || v == "HMSG") {
        uint64_t seq = std::stoull(subj.substr(subj.rfind('.') + 1));
        if (payload.find("\"error\"") != std::string::npos || payload.rfind("NATS/1.0 503", 0) == 0) {
          if (first_error.empty()) first_error = payload;
          ++failed;
        } else {
          if (seq < sent_at.size()) lat.record(now_ns() - sent_at[seq]);
          ++acked;
        }
      } else if (v.rfind("-ERR", 0) == 0) {
        die("nats: " + v);
      }
    }
  });

  std::string payload = random_payload(o.record_size);
  std::string out;
  out.reserve(1 << 20);
  uint64_t i = 0, last = start, last_acked = 0;
  while (i < total && !g_stop) {
    uint64_t t = now_ns();
    if (deadline && t >= deadline) break;
    // Fill the window, write it in one go.
    while (i < total && i - (acked + failed) < uint64_t(o.window) && out.size() < (1 << 19)) {
      out += fmt::format("PUB {}.x _INBOX.bench.{} {}\r\n", stream, i, payload.size());
      out += payload;
      out += "\r\n";
      if (!sent_at.empty()) sent_at[i] = t;
      ++i;
    }
    if (!out.empty()) {
      sent = i;
      nc.send_raw(out.data(), out.size());
      out.clear();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    if (double(t - last) / 1e9 >= o.interval) {
      double r = double(acked - last_acked) / (double(t - last) / 1e9);
      progress(o, "nats", double(t - start) / 1e9,
               fmt::format("sent {} acked {}  {:.0f} rec/s {:.1f} MB/s", i, acked.load(), r,
                           r * double(o.record_size) / 1e6));
      last = t, last_acked = acked;
    }
  }
  sent = i;
  writer_done = true;
  nc.send("PING\r\n");  // wakes the reader if everything is already acknowledged
  reader.join();
  double secs = double(now_ns() - start) / 1e9;
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("stream", stream);
  r.str("storage", "file");
  r.num("record_size", double(o.record_size));
  r.num("window", o.window);
  r.num("records", double(acked));
  r.num("failed", double(failed));
  if (!first_error.empty()) r.str("error", first_error);
  r.num("seconds", secs);
  r.num("records_per_s", double(acked) / secs);
  r.num("mb_per_s", double(acked) * double(o.record_size) / secs / 1e6);
  r.latency("ack_latency", lat);
  r.emit(o);
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- startup

int mode_startup(const Options& o) {
  if (o.command.empty()) die("startup: give the command after --");
  std::vector<double> ms;
  for (int run = 0; run < o.repeat; ++run) {
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::vector<char*> argv;
      for (auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    double took = -1;
    while (now_ns() - t0 < 10'000'000'000ull) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) die(fmt::format("startup: {} exited before accepting", o.command[0]));
      int fd = connect_tcp(o.bootstrap, true);
      if (fd >= 0) {
        took = double(now_ns() - t0) / 1e6;
        close(fd);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    kill(pid, SIGTERM);
    int st;
    uint64_t k0 = now_ns();
    while (waitpid(pid, &st, WNOHANG) != pid) {
      if (now_ns() - k0 > 10'000'000'000ull) kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (took < 0) die("startup: no connection accepted within 10 s");
    progress(o, "startup", 0, fmt::format("run {}: {:.2f} ms", run + 1, took));
    ms.push_back(took);
  }
  double first = ms.front();
  std::sort(ms.begin(), ms.end());
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.num("runs", double(ms.size()));
  r.num("first_ms", first);
  r.num("median_ms", ms[ms.size() / 2]);
  r.num("min_ms", ms.front());
  r.num("max_ms", ms.back());
  r.emit(o);
  return 0;
}

}  // namespace
}  // namespace runnel::bench

int main(int argc, char** argv) {
  using namespace runnel::bench;
  Options o = parse(argc, argv);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  if (o.mode == "produce") return mode_produce(o);
  if (o.mode == "consume") return mode_consume(o);
  if (o.mode == "latency") return mode_latency(o);
  if (o.mode == "nats") return mode_nats(o);
  if (o.mode == "startup") return mode_startup(o);
  fmt::print(stderr, "unknown mode {}\n", o.mode);
  usage(2);
}
