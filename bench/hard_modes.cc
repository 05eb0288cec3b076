// runnel-bench's modes for issue 17's hard workloads (bench/hard.py runs them):
//   mixed        many keyed producers and many consumers at once, each its own librdkafka
//                client on its own thread; optionally a backlog drain (--from-start)
//   connections  thousands of idle Kafka connections (ApiVersions answered on each)
//   metadata     Metadata request latency, all topics and one topic
// Every client object belongs to one thread; threads share only atomics, and their
// histograms are merged after they are joined.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <thread>

#include "broker_stages.h"
#include "common.h"
#include "kafka_client.h"

namespace runnel::bench {
namespace {

// ---------------------------------------------------------------- mixed: producers

struct MixedProducer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  Histogram ack_latency;
  uint64_t acked = 0, failed = 0, sent = 0;
  std::string first_error;
};

std::atomic<uint64_t> g_mixed_acked{0}, g_mixed_sent{0}, g_mixed_consumed{0};
std::atomic<bool> g_mixed_stop_producing{false}, g_mixed_stop_consuming{false};

void mixed_dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* p = static_cast<MixedProducer*>(opaque);
  if (m->err) {
    if (p->first_error.empty()) p->first_error = rd_kafka_err2str(m->err);
    ++p->failed;
    return;
  }
  p->ack_latency.record(now_ns() - uint64_t(uintptr_t(m->_private)));
  ++p->acked;
  g_mixed_acked.fetch_add(1, std::memory_order_relaxed);
}

void mixed_make_producer(const Options& o, MixedProducer* p) {
  rd_kafka_conf_t* c = base_conf(o);
  set(c, "acks", o.acks);
  set(c, "compression.type", o.compression);
  // Java's partitioner for keyed records (murmur2 of the key).
  set(c, "partitioner", "murmur2_random");
  if (o.linger_ms >= 0) set(c, "linger.ms", std::to_string(o.linger_ms));
  if (o.batch_size > 0) set(c, "batch.size", std::to_string(o.batch_size));
  // A bounded queue over all producers (~200,000 records): unpaced, 50 producers with
  // librdkafka's defaults would queue gigabytes.
  set(c, "queue.buffering.max.messages", std::to_string(std::max(2000, 200000 / o.producers)));
  set(c, "message.timeout.ms", "120000");
  apply_props(c, o);
  rd_kafka_conf_set_dr_msg_cb(c, mixed_dr_cb);
  rd_kafka_conf_set_opaque(c, p);
  p->rk = make_client(RD_KAFKA_PRODUCER, c);
  p->rkt = rd_kafka_topic_new(p->rk, o.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(p->rk, 0, p->rkt, &md, 10000) == 0) rd_kafka_metadata_destroy(md);
}

// Paced (rate > 0) or unpaced keyed, stamped records until told to stop or `deadline`.
void mixed_produce_loop(const Options& o, MixedProducer* p, int id, double rate, uint64_t start, uint64_t deadline) {
  std::string buf = random_payload(std::max<size_t>(o.record_size, 24));
  std::mt19937_64 rng(uint64_t(id) * 7919 + 1);
  char key[32];
  for (uint64_t i = 0; !g_stop && !g_mixed_stop_producing; ++i) {
    uint64_t t = now_ns();
    uint64_t due = t;
    if (rate > 0) {
      due = start + uint64_t(double(i) * 1e9 / rate);
      while (t < due && !g_stop && !g_mixed_stop_producing) {
        rd_kafka_poll(p->rk, 0);
        uint64_t gap = due - now_ns();
        if (int64_t(gap) > 60000)
          std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(gap - 50000, 100000)));
        t = now_ns();
      }
    }
    if (t >= deadline) break;
    // The intended send time, so that a stalled producer shows up in the latency.
    uint64_t stamp_t = rate > 0 ? due : t;
    uint64_t hdr[3] = {kMagic, stamp_t, (uint64_t(id) << 48) | i};
    std::memcpy(buf.data(), hdr, sizeof hdr);
    int klen = std::snprintf(key, sizeof key, "key-%llu", (unsigned long long)(rng() % o.keys));
    for (;;) {
      if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf.data(), buf.size(), key,
                           size_t(klen), reinterpret_cast<void*>(uintptr_t(stamp_t))) == 0)
        break;
      rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(fmt::format("produce: {}", rd_kafka_err2str(err)));
      rd_kafka_poll(p->rk, 1);
      if (g_stop || g_mixed_stop_producing) return;
    }
    ++p->sent;
    g_mixed_sent.fetch_add(1, std::memory_order_relaxed);
    if ((i & 255) == 0) rd_kafka_poll(p->rk, 0);
  }
}

// ---------------------------------------------------------------- mixed: consumers

struct MixedConsumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* q = nullptr;
  std::vector<int> parts;
  std::vector<int64_t> end_at_start;  // per entry of parts: the high watermark when it started
  Histogram e2e;
  uint64_t consumed = 0, bytes = 0, errors = 0;
  std::atomic<uint64_t> stamped_new{0};  // read by the main thread while the run ends
  uint64_t drained_at = 0;               // --from-start: when every partition reached end_at_start
  std::string first_error;
};

std::atomic<int> g_mixed_drained{0};

// Consumer `c` of `n`: partitions c, c+n, c+2n, ... from the start or the end.
void mixed_make_consumer(const Options& o, MixedConsumer* mc, int c, int n, int partitions) {
  rd_kafka_conf_t* conf = base_conf(o);
  set(conf, "fetch.wait.max.ms", "100");
  set(conf, "queued.min.messages", std::to_string(std::max(10000, 1000000 / n)));
  set(conf, "queued.max.messages.kbytes", std::to_string(std::max(16384, 1048576 / n)));
  set(conf, "fetch.message.max.bytes", "1048576");
  set(conf, "fetch.max.bytes", "52428800");
  apply_props(conf, o);
  mc->rk = make_client(RD_KAFKA_CONSUMER, conf);
  mc->rkt = rd_kafka_topic_new(mc->rk, o.topic.c_str(), nullptr);
  mc->q = rd_kafka_queue_new(mc->rk);
  for (int p = c; p < partitions; p += n) mc->parts.push_back(p);
  for (int p : mc->parts) {
    int64_t lo = 0, hi = 0;
    if (o.from_start) {
      auto e = rd_kafka_query_watermark_offsets(mc->rk, o.topic.c_str(), p, &lo, &hi, 30000);
      if (e) die(fmt::format("watermarks of {}/{}: {}", o.topic, p, rd_kafka_err2str(e)));
    }
    mc->end_at_start.push_back(hi);
    int64_t off = o.from_start ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    if (rd_kafka_consume_start_queue(mc->rkt, p, off, mc->q) != 0)
      die(fmt::format("consume_start {}/{}: {}", o.topic, p, rd_kafka_err2str(rd_kafka_last_error())));
  }
}

void mixed_consume_loop(MixedConsumer* mc, uint64_t run_start, uint64_t warm_end, bool from_start) {
  std::vector<rd_kafka_message_t*> batch(4096);
  // Per partition of this consumer (indexed like parts): the next offset it has not seen.
  std::vector<int64_t> next(mc->parts.size(), 0);
  size_t undrained = 0;
  for (size_t i = 0; i < mc->parts.size(); ++i) undrained += mc->end_at_start[i] > 0;
  if (from_start && undrained == 0) {
    mc->drained_at = now_ns();
    g_mixed_drained.fetch_add(1);
  }
  int max_part = mc->parts.empty() ? 0 : mc->parts.back();
  std::vector<int> index(size_t(max_part) + 1, -1);
  for (size_t i = 0; i < mc->parts.size(); ++i) index[size_t(mc->parts[i])] = int(i);
  while (!g_stop && !g_mixed_stop_consuming) {
    ssize_t n = rd_kafka_consume_batch_queue(mc->q, 0, batch.data(), batch.size());
    if (n <= 0) {
      n = 0;
      if (rd_kafka_message_t* m = rd_kafka_consume_queue(mc->q, 20)) batch[0] = m, n = 1;
    }
    uint64_t t = now_ns();
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[size_t(i)];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      } else if (m->err) {
        ++mc->errors;
        if (mc->first_error.empty()) mc->first_error = rd_kafka_message_errstr(m);
      } else {
        ++mc->consumed;
        mc->bytes += m->len;
        if (m->len >= 24) {
          uint64_t hdr[3];
          std::memcpy(hdr, m->payload, sizeof hdr);
          if (hdr[0] == kMagic && hdr[1] >= run_start) {
            mc->stamped_new.fetch_add(1, std::memory_order_relaxed);
            if (hdr[1] >= warm_end) mc->e2e.record(t - hdr[1]);
          }
        }
        if (from_start && !mc->drained_at && m->partition >= 0 && m->partition <= max_part) {
          int k = index[size_t(m->partition)];
          if (k >= 0 && next[size_t(k)] < mc->end_at_start[size_t(k)] && m->offset + 1 >= mc->end_at_start[size_t(k)])
            --undrained;
          if (k >= 0) next[size_t(k)] = std::max(next[size_t(k)], m->offset + 1);
          if (undrained == 0) {
            mc->drained_at = t;
            g_mixed_drained.fetch_add(1);
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
    if (n > 0) g_mixed_consumed.fetch_add(uint64_t(n), std::memory_order_relaxed);
  }
}

}  // namespace

int mode_mixed(const Options& o) {
  if (o.record_size < 24) die("mixed needs --record-size >= 24 (the stamp)");
  int parts = ensure_topic(o);
  if (parts <= 0) die(fmt::format("topic {} does not exist and --partitions was not given", o.topic));
  const int nc = std::min(o.consumers, parts);
  const double duration = o.duration > 0 ? o.duration : 10;

  // Clients first (connected, metadata known), then the clock.
  std::vector<std::unique_ptr<MixedConsumer>> consumers;
  {
    std::vector<std::thread> setup;
    for (int c = 0; c < nc; ++c) consumers.push_back(std::make_unique<MixedConsumer>());
    for (int c = 0; c < nc; ++c)
      setup.emplace_back([&, c] { mixed_make_consumer(o, consumers[size_t(c)].get(), c, nc, parts); });
    for (auto& t : setup) t.join();
  }
  uint64_t backlog = 0;
  for (auto& mc : consumers)
    for (int64_t h : mc->end_at_start) backlog += uint64_t(std::max<int64_t>(0, h));
  std::vector<std::unique_ptr<MixedProducer>> producers;
  for (int p = 0; p < o.producers; ++p) {
    producers.push_back(std::make_unique<MixedProducer>());
    mixed_make_producer(o, producers.back().get());
  }
  if (!o.from_start) std::this_thread::sleep_for(std::chrono::milliseconds(500));  // fetches at the end
  BrokerStages stages(o);
  const uint64_t start = now_ns();
  const uint64_t warm_end = start + uint64_t(o.warmup * 1e9);
  const uint64_t deadline = start + uint64_t(duration * 1e9);

  std::vector<std::thread> cthreads;
  for (auto& mc : consumers)
    cthreads.emplace_back([&, p = mc.get()] { mixed_consume_loop(p, start, warm_end, o.from_start); });
  std::vector<std::thread> pthreads;
  std::atomic<int> running{o.producers};
  std::atomic<uint64_t> send_end{0};
  for (int p = 0; p < o.producers; ++p)
    pthreads.emplace_back([&, p] {
      mixed_produce_loop(o, producers[size_t(p)].get(), p, o.rate / o.producers, start, deadline);
      uint64_t e = now_ns(), prev = send_end.load();
      while (prev < e && !send_end.compare_exchange_weak(prev, e)) {
      }
      rd_kafka_flush(producers[size_t(p)]->rk, 120000);
      --running;
    });
  IntervalRate prate(o, start), crate(o, start);
  uint64_t drained_all = 0;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t t = now_ns();
    if (o.from_start && !drained_all && g_mixed_drained.load() == nc) {
      drained_all = t;
      // The drain is over: the producers stop (their latency was measured during it).
      g_mixed_stop_producing = true;
    }
    auto a = g_mixed_acked.load();
    auto c = g_mixed_consumed.load();
    auto pr = prate.tick(t, a);
    auto cr = crate.tick(t, c);
    if (pr && cr)
      progress(o, "mixed", double(t - start) / 1e9,
               fmt::format("sent {} acked {} consumed {}  produce {:.0f} rec/s, consume {:.0f} rec/s{}",
                           g_mixed_sent.load(), a, c, *pr, *cr,
                           o.from_start ? fmt::format(", {} of {} consumers drained", g_mixed_drained.load(), nc)
                                        : std::string()));
  }
  for (auto& t : pthreads) t.join();
  const uint64_t produce_end = now_ns();
  // Let the consumers receive what was acknowledged (at most 10 s more).
  uint64_t acked = g_mixed_acked.load();
  if (nc > 0) {
    for (;;) {
      uint64_t got = 0;
      for (auto& mc : consumers) got += mc->stamped_new.load(std::memory_order_relaxed);
      if (got >= acked || now_ns() - produce_end > 10'000'000'000ull || g_stop) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  g_mixed_stop_consuming = true;
  for (auto& t : cthreads) t.join();
  const uint64_t end = now_ns();

  Histogram ack, e2e;
  uint64_t failed = 0, sent = 0, consumed = 0, bytes = 0, stamped_new = 0, errors = 0, last_drain = 0;
  std::string first_error, consume_error;
  for (auto& p : producers) {
    ack.merge(p->ack_latency);
    failed += p->failed, sent += p->sent;
    if (first_error.empty()) first_error = p->first_error;
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
  }
  for (auto& mc : consumers) {
    e2e.merge(mc->e2e);
    consumed += mc->consumed, bytes += mc->bytes, stamped_new += mc->stamped_new.load(), errors += mc->errors;
    last_drain = std::max(last_drain, mc->drained_at);
    if (consume_error.empty()) consume_error = mc->first_error;
    for (int p : mc->parts) rd_kafka_consume_stop(mc->rkt, p);
    rd_kafka_queue_destroy(mc->q);
    rd_kafka_topic_destroy(mc->rkt);
    rd_kafka_destroy(mc->rk);
  }
  const double produce_s = double(produce_end - start) / 1e9;
  const double send_s = double((send_end.load() ? send_end.load() : produce_end) - start) / 1e9;
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("topic", o.topic);
  r.num("partitions", parts);
  r.num("record_size", double(o.record_size));
  r.num("producers", o.producers);
  r.num("consumers", nc);
  r.num("keys", double(o.keys));
  r.str("acks", o.acks);
  r.num("rate_offered", o.rate);
  r.num("rate_achieved", double(sent) / send_s);
  r.num("records", double(acked));
  r.num("failed", double(failed));
  if (!first_error.empty()) r.str("error", first_error);
  r.num("seconds", produce_s);  // first send to last acknowledgement
  r.num("records_per_s", double(acked) / produce_s);
  r.num("mb_per_s", double(acked) * double(o.record_size) / produce_s / 1e6);
  r.num("consumed", double(consumed));
  r.num("consumed_new", double(stamped_new));  // of the records produced in this run
  r.num("consume_errors", double(errors));
  if (!consume_error.empty()) r.str("consume_error", consume_error);
  r.num("consumed_per_s", double(consumed) / (double(end - start) / 1e9));
  if (o.from_start) {
    r.num("backlog_records", double(backlog));
    r.num("backlog_drained", (g_mixed_drained.load() == nc) ? 1 : 0);
    if (g_mixed_drained.load() == nc && last_drain > start) {
      double ds = double(last_drain - start) / 1e9;
      r.num("drain_seconds", ds);
      r.num("drain_records_per_s", double(backlog) / ds);
      r.num("drain_mb_per_s", double(backlog) * double(o.record_size) / ds / 1e6);
    }
  }
  r.num("warmup_s", o.warmup);
  r.latency("ack_latency", ack);
  r.latency("e2e_latency", e2e);
  stages.add_to(r);
  r.emit(o);
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- connections

namespace {

// An ApiVersions v0 request (request header v1, client id "idle").
std::string api_versions_request(int32_t correlation) {
  std::string b;
  auto be16 = [&](uint16_t v) { b += char(v >> 8), b += char(v); };
  auto be32 = [&](uint32_t v) { be16(uint16_t(v >> 16)), be16(uint16_t(v)); };
  be32(0);   // size, filled in below
  be16(18);  // ApiVersions
  be16(0);
  be32(uint32_t(correlation));
  be16(4);
  b += "idle";
  uint32_t n = uint32_t(b.size() - 4);
  b[0] = char(n >> 24), b[1] = char(n >> 16), b[2] = char(n >> 8), b[3] = char(n);
  return b;
}

bool read_exact(int fd, char* p, size_t n) {
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r, n -= size_t(r);
  }
  return true;
}

// One ApiVersions round trip; true if a response with our correlation id and error 0 came.
bool api_versions_round_trip(int fd, int32_t correlation) {
  std::string req = api_versions_request(correlation);
  write_all(fd, req.data(), req.size());
  char hdr[4];
  if (!read_exact(fd, hdr, 4)) return false;
  uint32_t size = (uint32_t(uint8_t(hdr[0])) << 24) | (uint32_t(uint8_t(hdr[1])) << 16) |
                  (uint32_t(uint8_t(hdr[2])) << 8) | uint32_t(uint8_t(hdr[3]));
  if (size < 6 || size > (1u << 20)) return false;
  std::string body(size, '\0');
  if (!read_exact(fd, body.data(), size)) return false;
  int32_t corr = int32_t((uint32_t(uint8_t(body[0])) << 24) | (uint32_t(uint8_t(body[1])) << 16) |
                         (uint32_t(uint8_t(body[2])) << 8) | uint32_t(uint8_t(body[3])));
  int16_t err = int16_t((uint16_t(uint8_t(body[4])) << 8) | uint8_t(body[5]));
  return corr == correlation && err == 0;
}

}  // namespace

int mode_connections(const Options& o) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::vector<int> fds;
  Histogram rtt;
  std::string error;
  uint64_t t0 = now_ns();
  for (int i = 0; i < o.connections && !g_stop; ++i) {
    uint64_t c0 = now_ns();
    int fd = connect_tcp(o.bootstrap, true);
    if (fd < 0) {
      error = fmt::format("connection {}: {}", i, std::strerror(errno));
      break;
    }
    if (!api_versions_round_trip(fd, i)) {
      error = fmt::format("connection {}: no ApiVersions response", i);
      close(fd);
      break;
    }
    rtt.record(now_ns() - c0);
    fds.push_back(fd);
    if ((i + 1) % 2000 == 0) progress(o, "connections", double(now_ns() - t0) / 1e9, fmt::format("{} open", i + 1));
  }
  double open_s = double(now_ns() - t0) / 1e9;
  auto report = [&](int closed) {
    Result r;
    r.str("mode", o.mode);
    r.str("label", o.label);
    r.num("asked", o.connections);
    r.num("opened", double(fds.size()));
    r.num("nofile_limit", double(rl.rlim_cur));
    r.num("open_seconds", open_s);
    if (!error.empty()) r.str("error", error);
    r.latency("connect_and_api_versions", rtt);
    if (closed >= 0) r.num("closed_by_broker", closed);
    r.emit(o);
  };
  report(-1);  // the JSON file appearing tells bench/hard.py that the connections are open
  uint64_t hold_until = o.duration > 0 ? now_ns() + uint64_t(o.duration * 1e9) : UINT64_MAX;
  while (!g_stop && now_ns() < hold_until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int closed = 0;
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) ++closed;
    close(fd);
  }
  report(closed);
  return error.empty() ? 0 : 1;
}

// ---------------------------------------------------------------- metadata

int mode_metadata(const Options& o) {
  rd_kafka_conf_t* c = base_conf(o);
  apply_props(c, o);
  rd_kafka_t* rk = make_client(RD_KAFKA_PRODUCER, c);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
  Histogram all, one;
  int topics = 0, partitions = 0;
  auto ask = [&](bool every) {
    const rd_kafka_metadata_t* md = nullptr;
    uint64_t t = now_ns();
    auto err = rd_kafka_metadata(rk, every ? 1 : 0, every ? nullptr : rkt, &md, 60000);
    uint64_t took = now_ns() - t;
    if (err) die(fmt::format("metadata: {}", rd_kafka_err2str(err)));
    if (every) {
      topics = md->topic_cnt, partitions = 0;
      for (int i = 0; i < md->topic_cnt; ++i) partitions += md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return took;
  };
  (void)ask(true);  // connect
  for (int i = 0; i < o.repeat && !g_stop; ++i) all.record(ask(true));
  for (int i = 0; i < o.repeat && !g_stop; ++i) one.record(ask(false));
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.num("topics", topics);
  r.num("partitions", partitions);
  r.num("requests_each", o.repeat);
  r.latency("metadata_all", all);
  r.latency("metadata_one", one);
  r.emit(o);
  return 0;
}

}  // namespace runnel::bench
