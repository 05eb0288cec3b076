// runnel-bench's NATS JetStream peer driver.
#include <unistd.h>

#include <mutex>
#include <thread>

#include "common.h"

namespace runnel::bench {
namespace {

// A minimal NATS client: the text protocol (INFO/CONNECT/PUB/SUB/MSG/PING/PONG), enough
// to create a file-storage stream and publish to it with a window of outstanding acks, as
// nats.go's PublishAsync does. Each publish carries its sequence number in its reply
// subject, so the PubAck that comes back tells which publish it acknowledges.
class NatsConn {
 public:
  explicit NatsConn(const std::string& addr) : fd_(connect_tcp(addr)) {
    std::string info = read_line();
    if (info.rfind("INFO", 0) != 0) die("nats: expected INFO, got " + info);
    send(
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,"
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

}  // namespace

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
  uint64_t i = 0;
  IntervalRate produce_rate(o, start);
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
    if (auto per_s = produce_rate.tick(t, acked))
      progress(o, "nats", double(t - start) / 1e9,
               fmt::format("sent {} acked {}  {:.0f} rec/s {:.1f} MB/s", i, acked.load(), *per_s,
                           *per_s * double(o.record_size) / 1e6));
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

}  // namespace runnel::bench
