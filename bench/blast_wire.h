#pragma once
// The wire pieces of runnel-bench's lean clients (blast, fetch-blast,
// txn-blast): hand-encoding of requests and record batches, a blocking
// connection (plaintext, TLS, SASL PLAIN) with a read buffer, and the CPU
// accounting of client and broker. Not thread-safe: one Conn per thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "base/crc32c.h"
#include "common.h"
#include "kafka_client.h"

namespace runnel::bench {
namespace blast_detail {

// ------------------------------------------------------------ encoding

// The broker's own CRC-32C (ISA-L): an idempotent blast recomputes every
// batch's checksum per request, which a byte-wise table would make the
// client's largest cost.
inline uint32_t crc32c_of(const uint8_t* p, size_t n) { return runnel::crc32c({p, n}); }

// Overwrites the `n` bytes at `at` with `v`, big-endian (a field patched in
// an encoded request).
inline void put_be(std::string& s, size_t at, uint64_t v, int n) {
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
inline Enc request_start(int16_t api, int16_t version, int32_t correlation) {
  Enc e;
  e.i32(0);
  e.i16(api);
  e.i16(version);
  e.i32(correlation);
  e.str("runnel-blast");
  return e;
}
inline std::string finish(Enc& e) {
  e.put32(0, uint32_t(e.b.size() - 4));
  return std::move(e.b);
}

// One record batch v2, `count` records with `value` each (no key, no headers).
inline std::string record_batch(int count, const std::string& value, int64_t timestamp_ms) {
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

// Milliseconds since the epoch (record timestamps).
inline int64_t wall_ms() {
  return int64_t(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// A Produce v8 request for one topic carrying `batch` to each of
// `partitions`; `batch_at` gets where each partition's copy starts, for the
// fields patched per request. `transactional_id` empty: null.
inline std::string produce_request(const std::string& transactional_id, int16_t acks, const std::string& topic,
                                   const std::vector<int32_t>& partitions, const std::string& batch,
                                   std::vector<size_t>& batch_at) {
  Enc req = request_start(0, 8, 0);
  if (transactional_id.empty())
    req.i16(-1);
  else
    req.str(transactional_id);
  req.i16(acks);
  req.i32(30000);
  req.i32(1);  // one topic
  req.str(topic);
  req.i32(int32_t(partitions.size()));
  batch_at.clear();
  for (int32_t p : partitions) {
    req.i32(p);
    req.i32(int32_t(batch.size()));
    batch_at.push_back(req.b.size());
    req.b += batch;
  }
  return finish(req);
}

// The same to partitions 0 .. parts-1.
inline std::string produce_request(const std::string& transactional_id, int16_t acks, const std::string& topic,
                                   int parts, const std::string& batch, std::vector<size_t>& batch_at) {
  std::vector<int32_t> all(static_cast<size_t>(std::max(parts, 0)));
  for (int p = 0; p < parts; ++p) all[size_t(p)] = p;
  return produce_request(transactional_id, acks, topic, all, batch, batch_at);
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

inline std::string prop(const Options& o, const std::string& key, const std::string& def = "") {
  for (auto& [k, v] : o.props)
    if (k == key) return v;
  return def;
}

inline std::string ssl_errors() {
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
  int fd() const { return fd_; }
  // Whether bytes of a response were already read off the socket (into our
  // buffer or OpenSSL's): an event loop must not wait for the socket then.
  bool buffered() const { return begin_ < end_ || (ssl_ && SSL_pending(ssl_) > 0); }
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

  // Whether a response can be read without blocking, waiting up to
  // `timeout_ns` for the socket to become readable (a paced sender waits
  // for either its next send time or a response).
  bool wait_readable(int64_t timeout_ns) {
    if (begin_ < end_ || (ssl_ && SSL_pending(ssl_) > 0)) return true;
    if (timeout_ns < 0) timeout_ns = 0;
    pollfd p{fd_, POLLIN, 0};
    timespec ts{time_t(timeout_ns / 1000000000), long(timeout_ns % 1000000000)};
    return ::ppoll(&p, 1, &ts, nullptr) > 0;
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

inline double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process, seconds; -1 when it cannot be read.
inline double proc_cpu_s(int pid) {
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

inline void describe(Result& r, const Options& o, const Conn& c) {
  r.str("label", o.label);
  r.str("security_protocol", prop(o, "security.protocol", "PLAINTEXT"));
  r.str("tls", fmt::format("{} {}", c.version(), c.cipher()));
}

}  // namespace blast_detail

}  // namespace runnel::bench
