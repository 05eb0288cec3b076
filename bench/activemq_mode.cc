// runnel-bench activemq: ActiveMQ (Classic, 5.17) as a peer, over STOMP 1.2 with a minimal
// client of our own. Producer: SEND persistent:true to /queue/<topic> with a receipt header
// on every frame (ActiveMQ answers a receipted SEND once the message is stored, so the
// RECEIPT is the ack), --window frames awaiting their RECEIPT. Consumer: a new connection,
// SUBSCRIBE ack:client with activemq.prefetchSize, one cumulative ACK per prefetch/2
// messages, until every stored message is back. With --rate: produce only, at that rate,
// and report the send->receipt latency. A writer thread and a reader thread per connection.
#include <poll.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>

#include "common.h"

namespace runnel::bench {
namespace {

struct StompFrame {
  std::string command;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? std::string() : it->second;
  }
};

// The frame codec: COMMAND LF, header:value LF ..., LF, body, NUL. Header values are
// unescaped for \\, \n, \r and \c (STOMP 1.2); a body is read by content-length when the
// header is present, else up to the NUL. EOLs between frames (heart-beats) are skipped.
class StompConn {
 public:
  explicit StompConn(const std::string& addr) : fd_(connect_tcp(addr)) {
    send_frame("CONNECT", {{"accept-version", "1.2"}, {"host", "localhost"}, {"heart-beat", "0,0"}});
    StompFrame f;
    if (!read_frame(f, 10000) || f.command != "CONNECTED")
      die("activemq: expected CONNECTED, got " + f.command + " " + f.header("message"));
  }
  ~StompConn() { close(fd_); }

  static void encode(std::string& out, const std::string& cmd,
                     const std::vector<std::pair<std::string, std::string>>& hdrs, const std::string& body = {}) {
    out += cmd;
    out += '\n';
    for (auto& [k, v] : hdrs) {
      out += k;
      out += ':';
      out += v;
      out += '\n';
    }
    if (!body.empty()) out += fmt::format("content-length:{}\n", body.size());
    out += '\n';
    out += body;
    out += '\0';
  }
  void send_frame(const std::string& cmd, const std::vector<std::pair<std::string, std::string>>& hdrs,
                  const std::string& body = {}) {
    std::string out;
    encode(out, cmd, hdrs, body);
    send_raw(out.data(), out.size());
  }
  void send_raw(const char* p, size_t n) {
    std::lock_guard<std::mutex> g(wmu_);
    write_all(fd_, p, n);
  }

  // Reads one frame; false if nothing arrived within timeout_ms (-1: wait for ever).
  bool read_frame(StompFrame& f, int timeout_ms = -1) {
    f = StompFrame{};
    for (;;) {
      while (rpos_ < rbuf_.size() && (rbuf_[rpos_] == '\n' || rbuf_[rpos_] == '\r')) ++rpos_;
      size_t hend = rbuf_.find("\n\n", rpos_);
      if (hend != std::string::npos) {
        size_t body_at = hend + 2;
        std::string head = rbuf_.substr(rpos_, hend - rpos_);
        size_t nl = head.find('\n');
        f.command = head.substr(0, nl);
        if (!f.command.empty() && f.command.back() == '\r') f.command.pop_back();
        size_t i = nl == std::string::npos ? head.size() : nl + 1;
        while (i < head.size()) {
          size_t e = head.find('\n', i);
          if (e == std::string::npos) e = head.size();
          std::string line = head.substr(i, e - i);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          size_t colon = line.find(':');
          if (colon != std::string::npos) f.headers.emplace(line.substr(0, colon), unescape(line.substr(colon + 1)));
          i = e + 1;
        }
        std::string cl = f.header("content-length");
        size_t end;
        if (!cl.empty()) {
          size_t len = std::stoul(cl);
          if (rbuf_.size() < body_at + len + 1) {
            if (!fill(timeout_ms)) return false;
            continue;
          }
          end = body_at + len;
        } else {
          end = rbuf_.find('\0', body_at);
          if (end == std::string::npos) {
            if (!fill(timeout_ms)) return false;
            continue;
          }
        }
        f.body = rbuf_.substr(body_at, end - body_at);
        rpos_ = end + 1;
        if (f.command == "ERROR") die("activemq: ERROR " + f.header("message") + ": " + f.body);
        return true;
      }
      if (!fill(timeout_ms)) return false;
    }
  }

 private:
  static std::string unescape(const std::string& v) {
    if (v.find('\\') == std::string::npos) return v;
    std::string o;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '\\' || i + 1 == v.size()) {
        o += v[i];
        continue;
      }
      char c = v[++i];
      o += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'c' ? ':' : c;
    }
    return o;
  }
  bool fill(int timeout_ms) {
    if (rpos_ > 0 && rpos_ == rbuf_.size()) rbuf_.clear(), rpos_ = 0;
    if (rpos_ > (1 << 20)) rbuf_.erase(0, rpos_), rpos_ = 0;
    if (timeout_ms >= 0) {
      pollfd p{fd_, POLLIN, 0};
      int n;
      do n = poll(&p, 1, timeout_ms);
      while (n < 0 && errno == EINTR);
      if (n == 0) return false;
    }
    char tmp[1 << 16];
    ssize_t n;
    do n = ::read(fd_, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n <= 0) die("activemq: connection closed");
    rbuf_.append(tmp, size_t(n));
    return true;
  }

  int fd_;
  std::mutex wmu_;
  std::string rbuf_;
  size_t rpos_ = 0;
};

void stomp_disconnect(StompConn& c) {
  c.send_frame("DISCONNECT", {{"receipt", "bye"}});
  StompFrame f;
  while (c.read_frame(f, 5000))
    if (f.command == "RECEIPT" && f.header("receipt-id") == "bye") break;
}

}  // namespace

int mode_activemq(const Options& o) {
  const std::string dest = "/queue/" + o.topic;
  const bool paced = o.rate > 0;
  StompConn pc(o.bootstrap);
  uint64_t total = o.records;
  std::vector<uint64_t> sent_at;
  if (total == UINT64_MAX && paced && o.duration > 0) total = uint64_t(o.rate * o.duration) + 1;
  if (total != UINT64_MAX) sent_at.resize(total);
  std::atomic<uint64_t> acked{0}, sent{0};
  std::atomic<bool> writer_done{false};
  Histogram lat;
  uint64_t start = now_ns();
  uint64_t deadline = o.duration > 0 ? start + uint64_t(o.duration * 1e9) : 0;
  uint64_t warm = paced ? start + uint64_t(o.warmup * 1e9) : 0;

  std::thread reader([&] {
    StompFrame f;
    while (!(writer_done && acked >= sent)) {
      if (!pc.read_frame(f, 100)) continue;
      if (f.command != "RECEIPT") continue;
      uint64_t id = std::stoull(f.header("receipt-id"));
      if (id < sent_at.size() && sent_at[id] >= warm) lat.record(now_ns() - sent_at[id]);
      ++acked;
    }
  });

  std::string payload = random_payload(o.record_size);
  std::string out;
  out.reserve(1 << 20);
  uint64_t i = 0;
  IntervalRate produce_rate(o, start);
  while (i < total && !g_stop) {
    uint64_t t = now_ns();
    if (deadline && t >= deadline) break;
    // Fill the window (paced: only the records already due), write it in one go.
    while (i < total && i - acked < uint64_t(o.window) && out.size() < (1 << 19)) {
      uint64_t due = paced ? start + uint64_t(double(i) * 1e9 / o.rate) : t;
      if (due > t) break;
      StompConn::encode(out, "SEND", {{"destination", dest}, {"persistent", "true"}, {"receipt", std::to_string(i)}},
                        payload);
      if (!sent_at.empty()) sent_at[i] = due;
      ++i;
    }
    if (!out.empty()) {
      sent = i;
      pc.send_raw(out.data(), out.size());
      out.clear();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(paced ? 50 : 20));
    }
    if (auto per_s = produce_rate.tick(t, acked))
      progress(o, "activemq", double(t - start) / 1e9,
               fmt::format("sent {} stored {}  {:.0f} rec/s {:.1f} MB/s", i, acked.load(), *per_s,
                           *per_s * double(o.record_size) / 1e6));
  }
  sent = i;
  writer_done = true;
  reader.join();
  double secs = double(now_ns() - start) / 1e9;
  if (paced) secs -= o.warmup;
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("destination", dest);
  r.str("delivery", "STOMP 1.2 SEND persistent:true, receipt per message");
  r.num("record_size", double(o.record_size));
  r.num("window", o.window);
  if (paced) r.num("rate_offered", o.rate);
  r.num("records", double(acked));
  r.num("failed", double(sent - acked));
  r.num("seconds", secs);
  r.num("records_per_s", double(paced ? lat.count() : acked.load()) / secs);
  r.num("mb_per_s", double(paced ? lat.count() : acked.load()) * double(o.record_size) / secs / 1e6);
  r.latency("ack_latency", lat);
  stomp_disconnect(pc);

  if (!paced && acked > 0 && !g_stop) {
    StompConn cc(o.bootstrap);
    std::string ack_mode = "client-individual";
    for (auto& [k, v] : o.props)
      if (k == "ack") ack_mode = v;  // -X ack=auto|client|client-individual
    cc.send_frame(
        "SUBSCRIBE",
        {{"id", "1"}, {"destination", dest}, {"ack", ack_mode}, {"activemq.prefetchSize", std::to_string(o.prefetch)}});
    uint64_t want = acked, got = 0, bytes = 0, unacked = 0;
    uint64_t c0 = now_ns(), idle_since = c0;
    IntervalRate consume_rate(o, c0);
    uint64_t ack_every = uint64_t(std::max(1, o.prefetch / 2));
    std::string last_ack;
    StompFrame f;
    while (got < want && !g_stop) {
      bool have = cc.read_frame(f, 200);
      uint64_t t = now_ns();
      if (have && f.command == "MESSAGE") {
        ++got, bytes += f.body.size(), idle_since = t;
        last_ack = f.header("ack");
        if (ack_mode == "client-individual")
          cc.send_frame("ACK", {{"id", last_ack}});
        else if (ack_mode == "client" && ++unacked >= ack_every)
          cc.send_frame("ACK", {{"id", last_ack}}), unacked = 0;
      } else if (!have && t - idle_since > 10'000'000'000ull) {
        break;  // nothing for 10 s: report what came
      }
      if (auto per_s = consume_rate.tick(t, got))
        progress(o, "activemq consume", double(t - c0) / 1e9, fmt::format("{} / {}  {:.0f} rec/s", got, want, *per_s));
    }
    if (unacked && ack_mode == "client") cc.send_frame("ACK", {{"id", last_ack}});
    double csecs = double(now_ns() - c0) / 1e9;
    r.num("consume_prefetch", o.prefetch);
    r.str("consume_ack", ack_mode);
    report_consume(r, got, want, bytes, csecs);
    stomp_disconnect(cc);
  }
  r.emit(o);
  return sent == acked ? 0 : 1;
}

}  // namespace runnel::bench
