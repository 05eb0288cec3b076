// runnel-bench blast / fetch-blast: lean Kafka load generators for the TLS
// measurements of issue 14. No librdkafka on the data path (it only creates
// the topic): one blocking socket, plaintext or OpenSSL (SSL, SASL_SSL with
// PLAIN), hand-encoded requests.
//
//   blast        pre-encodes ONE Produce v8 request (a record batch v2 of
//                --batch-records records for each of --partitions
//                partitions, CRC-32C computed once, producer id -1) and
//                sends it over and over with up to --window requests in
//                flight, checking every partition's error code. Over TLS
//                each request goes to SSL_write whole, so OpenSSL cuts it
//                into full 16 KiB records (librdkafka 2.0.2 writes one
//                record per buffer segment, ~1.8 KB on average).
//   fetch-blast  reads every partition of the topic from offset 0 to the
//                high watermark it had at the start with Fetch v11
//                (partitions split into --window groups, one request in
//                flight per group), counting records from batch headers.
//
// Both report records/s, MB/s, and the CPU seconds of the client (getrusage
// over the timed part) and, with --broker-pid, of the broker (/proc/PID/stat),
// also per MB. Single-threaded.
#include <thread>

#include "blast_wire.h"
#include "broker_stages.h"

namespace runnel::bench {

using namespace blast_detail;

int mode_blast(const Options& o) {
  const int16_t acks = o.acks == "all" || o.acks == "-1" ? int16_t(-1) : int16_t(std::stoi(o.acks));
  const int batch_records = o.batch_records > 0 ? o.batch_records : 32;
  // --no-topic: the peer is not a broker (mode_sink); --partitions says how many.
  int parts = o.no_topic ? o.partitions : ensure_topic(o);
  if (parts <= 0) die("blast: topic " + o.topic + " does not exist and --partitions was not given");

  // The one request, sent again and again (the correlation id is patched in).
  const std::string value = random_payload(o.record_size);
  const std::string batch = record_batch(batch_records, value, wall_ms());
  std::vector<size_t> batch_at;  // where each partition's batch starts in the request
  std::string request = produce_request("", acks, o.topic, parts, batch, batch_at);
  const uint64_t per_request = uint64_t(batch_records) * uint64_t(parts);
  const uint64_t want = o.records == UINT64_MAX ? UINT64_MAX : (o.records + per_request - 1) / per_request;

  Conn c(o);
  if (o.idempotent) {
    // InitProducerId v1 (no transactional id), then every batch carries the
    // id and epoch; its sequence is set per request below.
    Enc init = request_start(22, 1, 1);
    init.i16(-1);     // transactional id: null
    init.i32(60000);  // transaction timeout (unused without one)
    auto body = c.round_trip(finish(init), 1);
    Dec d{body.data() + 4, body.data() + body.size()};
    d.i32();  // throttle
    if (int16_t err = d.i16()) die(fmt::format("blast: InitProducerId: error {}", err));
    const int64_t producer_id = d.i64();
    const int16_t epoch = d.i16();
    for (size_t at : batch_at) {
      put_be(request, at + kBatchProducerIdAt, uint64_t(producer_id), 8);
      put_be(request, at + kBatchProducerIdAt + 8, uint64_t(uint16_t(epoch)), 2);
    }
  }
  // Not the peers' 4000; an idempotent producer keeps at most 5 (Kafka's
  // limit for the sequences a broker remembers per producer and partition).
  const int window = o.window == Options{}.window ? (o.idempotent ? 5 : 8) : o.window;
  std::deque<std::pair<int32_t, uint64_t>> in_flight;  // correlation id, send time
  std::vector<uint8_t> body;
  Histogram latency;
  uint64_t sent = 0, acked = 0, errors = 0;
  std::string first_error;
  BrokerStages stages(o);
  CpuWindow cpu(o.broker_pid);
  const uint64_t t0 = now_ns();
  IntervalRate rate(o, t0);
  const uint64_t stop_ns = o.duration > 0 ? t0 + uint64_t(o.duration * 1e9) : UINT64_MAX;
  // --rate: request i is due at t0 + i * interval, and its latency runs from
  // then (not from when the window let it go), so a slow response is not
  // hidden by the requests it held back.
  const double interval_ns = o.rate > 0 ? double(per_request) / o.rate * 1e9 : 0;
  auto due = [&](uint64_t i) { return t0 + uint64_t(double(i) * interval_ns); };
  uint64_t want_now = want;
  while (acked < sent || (sent < want_now && !g_stop)) {
    while (in_flight.size() < size_t(window) && sent < want_now && !g_stop) {
      const uint64_t now = now_ns();
      if (now >= stop_ns) {
        want_now = sent;  // --duration is over: no more requests
        break;
      }
      if (interval_ns > 0 && due(sent) > now) break;
      const int32_t corr = int32_t(sent + 1000);
      put_be(request, 8, uint32_t(corr), 4);
      if (o.idempotent) {
        // Every request holds one batch per partition, so a partition's
        // sequence is the records sent to it so far.
        const auto sequence = uint32_t((sent * uint64_t(batch_records)) % (uint64_t(1) << 31));
        for (size_t at : batch_at) {
          put_be(request, at + kBatchBaseSequenceAt, sequence, 4);
          const auto* from = reinterpret_cast<const uint8_t*>(request.data()) + at + kBatchAttributesAt;
          put_be(request, at + kBatchCrcAt, crc32c_of(from, batch.size() - kBatchAttributesAt), 4);
        }
      }
      c.write(request);
      ++sent;
      if (acks == 0) {  // no response: sent is done (against a sink, see mode_sink)
        ++acked;
        continue;
      }
      in_flight.emplace_back(corr, interval_ns > 0 ? due(sent - 1) : now_ns());
    }
    if (interval_ns > 0 && sent < want_now && !g_stop) {
      // Paced: wait for a response or the next request's time, whichever comes first.
      const int64_t wait = in_flight.size() < size_t(window) ? int64_t(due(sent)) - int64_t(now_ns())
                                                             : int64_t(stop_ns - std::min(stop_ns, now_ns()));
      if (in_flight.empty()) {
        if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        continue;
      }
      if (!c.wait_readable(wait)) continue;
    }
    if (in_flight.empty()) break;
    c.read_response(body);
    Dec d{body.data(), body.data() + body.size()};
    if (d.i32() != in_flight.front().first) die("blast: response out of order");
    latency.record(now_ns() - in_flight.front().second);
    in_flight.pop_front();
    const int32_t topics = d.i32();
    for (int t = 0; t < topics; ++t) {
      d.str();
      const int32_t n = d.i32();
      for (int i = 0; i < n; ++i) {
        const int32_t partition = d.i32();
        const int16_t error = d.i16();
        d.skip(8 + 8 + 8);  // base offset, log append time, log start offset
        const int32_t record_errors = d.i32();
        for (int k = 0; k < std::max(0, record_errors); ++k) d.i32(), d.str();
        std::string message = d.str();
        if (error != 0) {
          ++errors;
          if (first_error.empty()) first_error = fmt::format("partition {}: error {} {}", partition, error, message);
        }
      }
    }
    ++acked;
    if (auto r = rate.tick(now_ns(), acked * per_request))
      progress(o, "blast", double(now_ns() - t0) / 1e9,
               fmt::format("{:.0f} rec/s, {:.1f} MB/s", *r, *r * double(o.record_size) / 1e6));
  }
  if (acks == 0) c.finish_sending();  // until the peer has read it all
  const double seconds = double(now_ns() - t0) / 1e9;
  const uint64_t records = acked * per_request;
  const double bytes = double(records) * double(o.record_size);
  Result r;
  describe(r, o, c);
  r.num("partitions", parts);
  r.num("record_size", double(o.record_size));
  r.str("acks", o.acks);
  r.str("idempotent", o.idempotent ? "yes" : "no");
  r.num("batch_records", batch_records);
  r.num("request_bytes", double(request.size()));
  r.num("window", window);
  r.num("rate_offered", o.rate);
  r.num("records", double(records));
  r.num("seconds", seconds);
  r.num("records_per_s", double(records) / seconds);
  r.num("mb_per_s", bytes / seconds / 1e6);
  r.latency("request_latency", latency);
  cpu.report(r, seconds, bytes);
  r.num("partition_errors", double(errors));
  if (!first_error.empty()) r.str("error", first_error);
  stages.add_to(r);
  r.emit(o);
  return errors ? 1 : 0;
}

int mode_fetch_blast(const Options& o) {
  int parts = ensure_topic(o);
  if (parts <= 0) die("blast: topic " + o.topic + " does not exist");
  const int groups = std::min(parts, o.window == Options{}.window ? 4 : o.window);
  const int32_t max_bytes = 64 << 20;
  const int32_t partition_max_bytes = o.batch_size > 0 ? o.batch_size : 4 << 20;  // --batch-size
  Conn c(o);
  std::vector<int64_t> offset(size_t(parts), 0), high(size_t(parts), -1);
  auto fetch_request = [&](int group, int32_t corr) {
    Enc e = request_start(1, 11, corr);
    e.i32(-1);   // replica
    e.i32(500);  // max wait ms
    e.i32(1);    // min bytes
    e.i32(max_bytes);
    e.i8(0);    // read uncommitted
    e.i32(0);   // session id: no fetch session
    e.i32(-1);  // session epoch
    e.i32(1);
    e.str(o.topic);
    int n = 0;
    for (int p = group; p < parts; p += groups) ++n;
    e.i32(n);
    for (int p = group; p < parts; p += groups) {
      e.i32(p);
      e.i32(-1);  // current leader epoch
      e.i64(offset[size_t(p)]);
      e.i64(-1);  // log start offset
      e.i32(partition_max_bytes);
    }
    e.i32(0);   // forgotten topics
    e.str("");  // rack
    return finish(e);
  };
  auto done = [&](int p) { return high[size_t(p)] >= 0 && offset[size_t(p)] >= high[size_t(p)]; };
  auto group_done = [&](int g) {
    for (int p = g; p < parts; p += groups)
      if (!done(p)) return false;
    return true;
  };
  std::deque<std::pair<int32_t, int>> in_flight;  // correlation id, group
  std::vector<uint8_t> body;
  uint64_t records = 0, bytes = 0, responses = 0;
  int32_t next_corr = 1000;
  CpuWindow cpu(o.broker_pid);
  const uint64_t t0 = now_ns();
  IntervalRate rate(o, t0);
  const uint64_t stop_ns = o.duration > 0 ? t0 + uint64_t(o.duration * 1e9) : UINT64_MAX;
  for (int g = 0; g < groups; ++g) {
    in_flight.emplace_back(next_corr, g);
    c.write(fetch_request(g, next_corr++));
  }
  while (!in_flight.empty()) {
    c.read_response(body);
    ++responses;
    Dec d{body.data(), body.data() + body.size()};
    if (d.i32() != in_flight.front().first) die("blast: fetch response out of order");
    const int group = in_flight.front().second;
    in_flight.pop_front();
    d.i32();  // throttle
    if (int16_t err = d.i16()) die(fmt::format("blast: Fetch error {}", err));
    d.i32();  // session id
    const int32_t topics = d.i32();
    for (int t = 0; t < topics; ++t) {
      d.str();
      const int32_t n = d.i32();
      for (int i = 0; i < n; ++i) {
        const int32_t p = d.i32();
        const int16_t err = d.i16();
        const int64_t hw = d.i64();
        d.skip(8 + 8);  // last stable offset, log start offset
        const int32_t aborted = d.i32();
        if (aborted > 0) d.skip(size_t(aborted) * 16);
        d.i32();  // preferred read replica
        const int32_t size = d.i32();
        if (err != 0) die(fmt::format("blast: Fetch partition {}: error {}", p, err));
        if (p < 0 || p >= parts) die("blast: Fetch answered an unknown partition");
        if (high[size_t(p)] < 0) high[size_t(p)] = hw;  // read up to the end it had at the start
        if (size <= 0) continue;
        d.need(size_t(size));
        const uint8_t* b = d.p;
        const uint8_t* end = d.p + size;
        d.p = end;
        bytes += uint64_t(size);
        while (end - b >= 61) {  // whole batches only; a cut-off last one is fetched again
          Dec h{b, end};
          const int64_t base = h.i64();
          const int32_t length = h.i32();
          if (length < 49 || end - b < 12 + length) break;
          Dec tail{b + 23, end};
          const int32_t last_delta = tail.i32();
          Dec count{b + 57, end};
          const int32_t n_records = count.i32();
          if (base + last_delta >= offset[size_t(p)]) records += uint64_t(std::max(0, n_records));
          offset[size_t(p)] = std::max(offset[size_t(p)], base + last_delta + 1);
          b += 12 + length;
        }
      }
    }
    if (auto r = rate.tick(now_ns(), records))
      progress(o, "fetch-blast", double(now_ns() - t0) / 1e9,
               fmt::format("{:.0f} rec/s, {:.1f} MB/s", *r, *r * double(o.record_size) / 1e6));
    const bool more = !g_stop && now_ns() < stop_ns && (!o.records_given || records < o.records);
    if (more && !group_done(group)) {
      in_flight.emplace_back(next_corr, group);
      c.write(fetch_request(group, next_corr++));
    }
  }
  const double seconds = double(now_ns() - t0) / 1e9;
  Result r;
  describe(r, o, c);
  r.num("partitions", parts);
  r.num("record_size", double(o.record_size));
  r.num("window", groups);
  r.num("fetch_responses", double(responses));
  r.num("records", double(records));
  r.num("seconds", seconds);
  r.num("records_per_s", double(records) / seconds);
  // MB/s of values, as the produce rows count them; the wire carried batch overhead too.
  const double payload = double(records) * double(o.record_size);
  r.num("mb_per_s", payload / seconds / 1e6);
  r.num("wire_mb_per_s", double(bytes) / seconds / 1e6);
  cpu.report(r, seconds, payload);
  int64_t want = 0;
  for (int64_t h : high) want += std::max<int64_t>(0, h);
  r.num("high_watermark_total", double(want));
  if (!o.records_given && int64_t(records) < want) r.str("error", fmt::format("read {} of {} records", records, want));
  r.emit(o);
  return 0;
}

// A stand-in for a broker that does nothing but receive: accepts one
// connection on --bootstrap (TLS with -X ssl.keystore.location=PEM, key and
// certificate, when security.protocol=SSL), reads until the peer closes,
// and reports MB/s and its CPU per MB. What `blast --acks 0` costs a
// receiver that decrypts (or recv()s) and discards: the floor under a
// broker's TLS path on this machine.
int mode_sink(const Options& o) {
  const std::string protocol = prop(o, "security.protocol", "PLAINTEXT");
  const bool tls = protocol == "SSL";
  const auto colon = o.bootstrap.rfind(':');
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(std::stoi(o.bootstrap.substr(colon + 1))));
  if (inet_pton(AF_INET, o.bootstrap.substr(0, colon).c_str(), &addr.sin_addr) != 1) die("sink: IPv4 address needed");
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 4) != 0)
    die(fmt::format("sink: listen on {}: {}", o.bootstrap, std::strerror(errno)));
  int fd = accept(lfd, nullptr, nullptr);
  if (fd < 0) die("sink: accept failed");
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  if (tls) {
    const std::string pem = prop(o, "ssl.keystore.location");
    ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx, pem.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, pem.c_str(), SSL_FILETYPE_PEM) != 1)
      die("sink: cannot load " + pem + ": " + ssl_errors());
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_read_ahead(ssl, 0);
    if (SSL_accept(ssl) != 1) die("sink: TLS handshake: " + ssl_errors());
  }
  std::unique_ptr<uint8_t[]> in(new uint8_t[256 << 10]);
  uint64_t bytes = 0, t0 = 0;
  double cpu0 = 0;
  for (;;) {
    size_t n = 0;
    if (tls) {
      if (SSL_read_ex(ssl, in.get(), 256 << 10, &n) != 1) break;
    } else {
      ssize_t r = ::recv(fd, in.get(), 256 << 10, 0);
      if (r <= 0) break;
      n = size_t(r);
    }
    if (bytes == 0) t0 = now_ns(), cpu0 = self_cpu_s();
    bytes += n;
  }
  const double seconds = double(now_ns() - t0) / 1e9;
  const double cpu = self_cpu_s() - cpu0;
  Result r;
  r.str("label", o.label);
  r.str("security_protocol", protocol);
  r.str("tls", ssl ? fmt::format("{} {}", SSL_get_version(ssl), SSL_get_cipher_name(ssl)) : "none");
  r.num("bytes", double(bytes));
  r.num("seconds", seconds);
  r.num("mb_per_s", double(bytes) / seconds / 1e6);
  r.num("sink_cpu_s", cpu);
  r.num("sink_cpu_us_per_mb", cpu / (double(bytes) / 1e6) * 1e6);
  if (ssl) SSL_free(ssl);
  if (ctx) SSL_CTX_free(ctx);
  close(fd);
  close(lfd);
  r.emit(o);
  return 0;
}

}  // namespace runnel::bench
