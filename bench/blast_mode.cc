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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "base/crc32c.h"
#include "common.h"
#include "kafka_client.h"

namespace runnel::bench {
namespace blast_detail {

// ------------------------------------------------------------ encoding

// The broker's own CRC-32C (ISA-L): an idempotent blast recomputes every
// batch's checksum per request, which a byte-wise table would make the
// client's largest cost.
uint32_t crc32c_of(const uint8_t* p, size_t n) { return runnel::crc32c({p, n}); }

// Overwrites the `n` bytes at `at` with `v`, big-endian (a field patched in
// an encoded request).
void put_be(std::string& s, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s[at + size_t(i)] = char((v >> (8 * (n - 1 - i))) & 0xFF);
}

struct Enc {
  std::string b;
  void i8(int8_t v) { b.push_back(char(v)); }
  void i16(int16_t v) { be(uint64_t(uint16_t(v)), 2); }
  void i32(int32_t v) { be(uint64_t(uint32_t(v)), 4); }
  void i64(int64_t v) { be(uint64_t(v), 8); }
  void be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(char((v >> (8 * i)) & 0xFF));
  }
  void str(const std::string& s) {
    i16(int16_t(s.size()));
    b += s;
  }
  void varint(int64_t v) {  // zig-zag
    uint64_t z = (uint64_t(v) << 1) ^ uint64_t(v >> 63);
    while (z >= 0x80) {
      b.push_back(char((z & 0x7F) | 0x80));
      z >>= 7;
    }
    b.push_back(char(z));
  }
  void put32(size_t at, uint32_t v) { put_be(b, at, v, 4); }
};

// Request header v1 (every request used here is non-flexible); the size
// prefix is patched by finish().
Enc request_start(int16_t api, int16_t version, int32_t correlation) {
  Enc e;
  e.i32(0);
  e.i16(api);
  e.i16(version);
  e.i32(correlation);
  e.str("runnel-blast");
  return e;
}
std::string finish(Enc& e) {
  e.put32(0, uint32_t(e.b.size() - 4));
  return std::move(e.b);
}

// One record batch v2, `count` records with `value` each (no key, no headers).
std::string record_batch(int count, const std::string& value, int64_t timestamp_ms) {
  Enc records;
  for (int i = 0; i < count; ++i) {
    Enc r;
    r.i8(0);       // attributes
    r.varint(0);   // timestamp delta
    r.varint(i);   // offset delta
    r.varint(-1);  // key: null
    r.varint(int64_t(value.size()));
    r.b += value;
    r.varint(0);  // headers
    records.varint(int64_t(r.b.size()));
    records.b += r.b;
  }
  Enc h;
  h.i64(0);   // base offset
  h.i32(0);   // batch length, patched
  h.i32(-1);  // partition leader epoch
  h.i8(2);    // magic
  h.i32(0);   // crc, patched
  const size_t crc_from = h.b.size();
  h.i16(0);             // attributes: no compression, CreateTime
  h.i32(count - 1);     // last offset delta
  h.i64(timestamp_ms);  // base timestamp
  h.i64(timestamp_ms);  // max timestamp
  h.i64(-1);            // producer id
  h.i16(-1);            // producer epoch
  h.i32(-1);            // base sequence
  h.i32(count);         // records
  h.b += records.b;
  h.put32(8, uint32_t(h.b.size() - 12));
  h.put32(17, crc32c_of(reinterpret_cast<const uint8_t*>(h.b.data()) + crc_from, h.b.size() - crc_from));
  return h.b;
}

// Where the fields an idempotent producer sets sit in a record batch v2.
constexpr size_t kBatchCrcAt = 17;  // CRC-32C of everything from the attributes on
constexpr size_t kBatchAttributesAt = 21;
constexpr size_t kBatchProducerIdAt = 43;    // int64, then the epoch (int16)
constexpr size_t kBatchBaseSequenceAt = 53;  // int32

// ------------------------------------------------------------ decoding

struct Dec {
  const uint8_t* p;
  const uint8_t* end;
  void need(size_t n) const {
    if (size_t(end - p) < n) die("blast: truncated response");
  }
  uint64_t be(int n) {
    need(size_t(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
    p += n;
    return v;
  }
  int8_t i8() { return int8_t(be(1)); }
  int16_t i16() { return int16_t(be(2)); }
  int32_t i32() { return int32_t(be(4)); }
  int64_t i64() { return int64_t(be(8)); }
  std::string str() {  // nullable: "" for null
    int16_t n = i16();
    if (n < 0) return {};
    need(size_t(n));
    std::string s(reinterpret_cast<const char*>(p), size_t(n));
    p += n;
    return s;
  }
  void skip(size_t n) {
    need(n);
    p += n;
  }
};

// ------------------------------------------------------------ the connection

std::string prop(const Options& o, const std::string& key, const std::string& def = "") {
  for (auto& [k, v] : o.props)
    if (k == key) return v;
  return def;
}

std::string ssl_errors() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += std::string(s.empty() ? "" : "; ") + buf;
  }
  return s.empty() ? "(no OpenSSL error)" : s;
}

// A blocking connection, plaintext or TLS, with a read buffer in front.
class Conn {
 public:
  explicit Conn(const Options& o) {
    const std::string protocol = prop(o, "security.protocol", "PLAINTEXT");
    tls_ = protocol == "SSL" || protocol == "SASL_SSL";
    const bool sasl = protocol == "SASL_SSL" || protocol == "SASL_PLAINTEXT";
    if (!tls_ && protocol != "PLAINTEXT" && !sasl) die("blast: unknown security.protocol " + protocol);
    fd_ = connect_tcp(o.bootstrap);
    int buf = 4 << 20;  // large socket buffers: a window of big requests in flight
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (tls_) start_tls(o);
    if (sasl) sasl_plain(o);
  }
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool tls() const { return tls_; }
  const char* cipher() const { return ssl_ ? SSL_get_cipher_name(ssl_) : "none"; }
  const char* version() const { return ssl_ ? SSL_get_version(ssl_) : "none"; }

  void write(const std::string& s) { write(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
  void write(const uint8_t* p, size_t n) {
    while (n > 0) {
      if (tls_) {
        size_t w = 0;
        // Whole: OpenSSL cuts it into records of 16 KiB (the largest TLS allows).
        if (SSL_write_ex(ssl_, p, n, &w) != 1) die("blast: SSL_write: " + ssl_errors());
        p += w, n -= w;
      } else {
        ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EINTR) continue;
          die(fmt::format("blast: send: {}", std::strerror(errno)));
        }
        p += w, n -= size_t(w);
      }
    }
  }

  // Exactly n bytes: from the buffer first, large remainders straight into dst.
  void read_exact(uint8_t* dst, size_t n) {
    while (n > 0) {
      if (begin_ < end_) {
        size_t k = std::min(n, end_ - begin_);
        std::memcpy(dst, in_.get() + begin_, k);
        begin_ += k, dst += k, n -= k;
      } else if (n >= kIn / 2) {
        size_t k = raw_read(dst, n);
        dst += k, n -= k;
      } else {
        begin_ = 0;
        end_ = raw_read(in_.get(), kIn);
      }
    }
  }

  // One response: its body after the size (correlation id first).
  void read_response(std::vector<uint8_t>& body) {
    uint8_t size[4];
    read_exact(size, 4);
    uint32_t n = (uint32_t(size[0]) << 24) | (uint32_t(size[1]) << 16) | (uint32_t(size[2]) << 8) | size[3];
    if (n > (1u << 30)) die(fmt::format("blast: response of {} bytes", n));
    body.resize(n);
    read_exact(body.data(), n);
  }

  // Ends the sending side (close_notify over TLS) and waits until the peer
  // closes: then it has read everything.
  void finish_sending() {
    if (tls_) SSL_shutdown(ssl_);
    ::shutdown(fd_, SHUT_WR);
    uint8_t scratch[4096];
    while (::recv(fd_, scratch, sizeof scratch, 0) > 0) {
    }
  }

  // A request and its response, for the set-up exchanges.
  std::vector<uint8_t> round_trip(const std::string& request, int32_t correlation) {
    write(request);
    std::vector<uint8_t> body;
    read_response(body);
    Dec d{body.data(), body.data() + body.size()};
    if (d.i32() != correlation) die("blast: response out of order");
    return body;
  }

 private:
  static constexpr size_t kIn = 256 << 10;

  size_t raw_read(uint8_t* dst, size_t n) {
    for (;;) {
      if (tls_) {
        size_t r = 0;
        if (SSL_read_ex(ssl_, dst, n, &r) == 1) return r;
        die("blast: SSL_read: connection closed or failed: " + ssl_errors());
      }
      ssize_t r = ::recv(fd_, dst, n, 0);
      if (r > 0) return size_t(r);
      if (r < 0 && errno == EINTR) continue;
      die(r == 0 ? std::string("blast: the broker closed the connection")
                 : fmt::format("blast: recv: {}", std::strerror(errno)));
    }
  }

  void start_tls(const Options& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) die("blast: SSL_CTX_new: " + ssl_errors());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    const std::string ca = prop(o, "ssl.ca.location");
    if (!ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) die("blast: cannot load " + ca);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    } else {
      SSL_CTX_set_default_verify_paths(ctx_);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    // The broker's certificate must name the host we connect to (as librdkafka's
    // ssl.endpoint.identification.algorithm=https checks).
    const std::string host = o.bootstrap.substr(0, o.bootstrap.rfind(':'));
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) != 1) {
      SSL_set1_host(ssl_, host.c_str());
      SSL_set_tlsext_host_name(ssl_, host.c_str());
    }
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) die("blast: TLS handshake: " + ssl_errors());
    in_.reset(new uint8_t[kIn]);
  }

  // SaslHandshake v1 + SaslAuthenticate v1 with PLAIN (runnel checks it
  // against the user's SCRAM credential).
  void sasl_plain(const Options& o) {
    const std::string mech = prop(o, "sasl.mechanism", "PLAIN");
    if (mech != "PLAIN") die("blast: only sasl.mechanism=PLAIN is implemented, not " + mech);
    Enc h = request_start(17, 1, 1);
    h.str("PLAIN");
    auto body = round_trip(finish(h), 1);
    Dec d{body.data() + 4, body.data() + body.size()};
    if (int16_t err = d.i16()) die(fmt::format("blast: SaslHandshake PLAIN: error {}", err));
    Enc a = request_start(36, 1, 2);
    std::string token = std::string(1, '\0') + prop(o, "sasl.username") + '\0' + prop(o, "sasl.password");
    a.i32(int32_t(token.size()));
    a.b += token;
    body = round_trip(finish(a), 2);
    d = Dec{body.data() + 4, body.data() + body.size()};
    if (int16_t err = d.i16()) die(fmt::format("blast: SaslAuthenticate: error {} {}", err, d.str()));
  }

  int fd_ = -1;
  bool tls_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::unique_ptr<uint8_t[]> in_{new uint8_t[kIn]};
  size_t begin_ = 0, end_ = 0;
};

// ------------------------------------------------------------ CPU accounting

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process, seconds; -1 when it cannot be read.
double proc_cpu_s(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close_paren = s.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream in(s.substr(close_paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i)  // field 3 is the state
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / double(sysconf(_SC_CLK_TCK));
}

struct CpuWindow {
  int pid;
  double client0, broker0;
  explicit CpuWindow(int broker) : pid(broker), client0(self_cpu_s()), broker0(proc_cpu_s(broker)) {}
  void report(Result& r, double seconds, double bytes) const {
    double client = self_cpu_s() - client0;
    r.num("blast_client_cpu_s", client);
    r.num("client_cpu_us_per_mb", client / (bytes / 1e6) * 1e6);
    r.num("client_cpu_share", client / seconds);
    if (pid > 0 && broker0 >= 0) {
      double broker = proc_cpu_s(pid) - broker0;
      r.num("broker_cpu_s", broker);
      r.num("broker_cpu_us_per_mb", broker / (bytes / 1e6) * 1e6);
      r.num("broker_cpu_share", broker / seconds);
    }
  }
};

void describe(Result& r, const Options& o, const Conn& c) {
  r.str("label", o.label);
  r.str("security_protocol", prop(o, "security.protocol", "PLAINTEXT"));
  r.str("tls", fmt::format("{} {}", c.version(), c.cipher()));
}

}  // namespace blast_detail

using namespace blast_detail;

int mode_blast(const Options& o) {
  const int16_t acks = o.acks == "all" || o.acks == "-1" ? int16_t(-1) : int16_t(std::stoi(o.acks));
  const int batch_records = o.batch_records > 0 ? o.batch_records : 32;
  // --no-topic: the peer is not a broker (mode_sink); --partitions says how many.
  int parts = o.no_topic ? o.partitions : ensure_topic(o);
  if (parts <= 0) die("blast: topic " + o.topic + " does not exist and --partitions was not given");

  // The one request, sent again and again (the correlation id is patched in).
  const std::string value = random_payload(o.record_size);
  const int64_t now_ms =
      int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count());
  const std::string batch = record_batch(batch_records, value, now_ms);
  Enc req = request_start(0, 8, 0);
  req.i16(-1);  // transactional id: null
  req.i16(acks);
  req.i32(30000);
  req.i32(1);  // one topic
  req.str(o.topic);
  req.i32(parts);
  std::vector<size_t> batch_at;  // where each partition's batch starts in the request
  for (int p = 0; p < parts; ++p) {
    req.i32(p);
    req.i32(int32_t(batch.size()));
    batch_at.push_back(req.b.size());
    req.b += batch;
  }
  std::string request = finish(req);
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
  CpuWindow cpu(o.broker_pid);
  const uint64_t t0 = now_ns();
  IntervalRate rate(o, t0);
  const uint64_t stop_ns = o.duration > 0 ? t0 + uint64_t(o.duration * 1e9) : UINT64_MAX;
  while (acked < sent || (sent < want && !g_stop)) {
    while (in_flight.size() < size_t(window) && sent < want && now_ns() < stop_ns && !g_stop) {
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
      in_flight.emplace_back(corr, now_ns());
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
  r.num("records", double(records));
  r.num("seconds", seconds);
  r.num("records_per_s", double(records) / seconds);
  r.num("mb_per_s", bytes / seconds / 1e6);
  r.latency("request_latency", latency);
  cpu.report(r, seconds, bytes);
  r.num("partition_errors", double(errors));
  if (!first_error.empty()) r.str("error", first_error);
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
