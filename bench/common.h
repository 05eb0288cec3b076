// Shared pieces of runnel-bench: options, results (table + JSON), clock, sockets, and the
// entry point of every mode. Single-threaded set-up; g_stop is the only shared state.
#pragma once

#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "histogram.h"

namespace runnel::bench {

inline uint64_t now_ns() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Set by SIGINT/SIGTERM: every loop winds down and reports what it has.
extern std::atomic<bool> g_stop;

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
  int window = 4000;                   // nats, rabbitmq, activemq: publishes awaiting their ack
  std::string queue_type = "classic";  // rabbitmq: classic | stream
  int prefetch = 1000;                 // rabbitmq (basic.qos), activemq (activemq.prefetchSize)
  int repeat = 5;                      // startup
  uint64_t txn_records = 0;            // produce: records per transaction (0: not transactional)
  std::string broker_metrics;          // runnel's admin listener HOST:PORT: report its stage histograms
  int consumers = 0;                   // mixed: consumer instances (each assigned every Nth partition)
  uint64_t keys = 100000;              // mixed: distinct record keys (murmur2 partitioner, as Java's)
  bool from_start = false;             // mixed: consumers read from the start (a backlog drain)
  int connections = 10000;             // connections: idle Kafka connections to hold open
  int batch_records = 0;               // blast: records per partition batch (0: 32)
  bool no_topic = false;               // blast: do not create the topic (against a sink)
  bool idempotent = false;             // blast: InitProducerId, then sequence numbers per batch
  int broker_pid = 0;                  // blast, fetch-blast: report this process's CPU time too
  std::vector<std::pair<std::string, std::string>> props;  // -X key=value
  std::vector<std::string> command;                        // startup: after --
};

Options parse(int argc, char** argv);
// Prints the modes and options (stdout if rc is 0, else stderr) and exits with rc.
[[noreturn]] void usage(int rc);

// One result: a flat list of named numbers and strings, printed as a table and as JSON.
struct Result {
  std::vector<std::pair<std::string, std::string>> fields;  // value already JSON-encoded
  void num(const std::string& k, double v) {
    fields.emplace_back(
        k, (v == double(int64_t(v)) && std::abs(v) < 1e15) ? fmt::format("{}", int64_t(v)) : fmt::format("{:.3f}", v));
  }
  void str(const std::string& k, const std::string& v) {
    std::string e = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        e += '\\', e += c;
      else if (uint8_t(c) < 0x20)
        e += fmt::format("\\u{:04x}", int(c));
      else
        e += c;
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
  // Adds the CPU time this process used (user + system, every thread): on a small machine
  // the client can be the limit, and this shows when it is.
  void emit(const Options& o) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    num("client_cpu_s",
        double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
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

// The rate of a growing count over each progress interval: tick() gives it
// once --interval seconds have passed since the last one it gave (the
// produce and consume loops print it with progress()).
class IntervalRate {
 public:
  IntervalRate(const Options& o, uint64_t start_ns) : interval_s_(o.interval), last_ns_(start_ns) {}
  std::optional<double> tick(uint64_t now_ns, uint64_t count) {
    double seconds = double(now_ns - last_ns_) / 1e9;
    if (seconds < interval_s_) return std::nullopt;
    double rate = double(count - last_count_) / seconds;
    last_ns_ = now_ns;
    last_count_ = count;
    return rate;
  }

 private:
  double interval_s_;
  uint64_t last_ns_;
  uint64_t last_count_ = 0;
};

// The consume fields of a peer driver's result: `got` of `want` records
// (`bytes` of payload) read in `seconds`, and an error when some are missing.
void report_consume(Result& r, uint64_t got, uint64_t want, uint64_t bytes, double seconds);

// A progress line on stderr (unless --quiet).
void progress(const Options& o, const char* what, double t, const std::string& line);
[[noreturn]] void die(const std::string& what);
// Like kafka-producer-perf-test: random upper-case letters (compressible, not trivially).
std::string random_payload(size_t n);
// A TCP connection with TCP_NODELAY; -1 (quiet) or exit on failure.
int connect_tcp(const std::string& hostport, bool quiet = false);
void write_all(int fd, const char* p, size_t n);

int mode_produce(const Options& o);
int mode_consume(const Options& o);
int mode_latency(const Options& o);
int mode_nats(const Options& o);
int mode_startup(const Options& o);
int mode_rabbitmq(const Options& o);
int mode_activemq(const Options& o);
int mode_mixed(const Options& o);
int mode_connections(const Options& o);
int mode_metadata(const Options& o);
int mode_blast(const Options& o);
int mode_fetch_blast(const Options& o);
int mode_txn_blast(const Options& o);
int mode_sink(const Options& o);

}  // namespace runnel::bench
