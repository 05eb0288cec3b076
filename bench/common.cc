// runnel-bench's shared pieces: command line, progress lines, sockets.
#include "common.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

namespace runnel::bench {

std::atomic<bool> g_stop{false};

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
  rabbitmq   RabbitMQ over AMQP 0-9-1 (librabbitmq): declare a durable --queue-type classic|stream
             queue, publish --records persistent messages with publisher confirms (--window
             unconfirmed), then consume them all (basic.qos --prefetch, acks every prefetch/2);
             with --rate: publish at that rate for --duration, produce->confirm latency only
  activemq   ActiveMQ over STOMP 1.2: SEND persistent:true with a receipt per message (--window
             awaiting their RECEIPT) to /queue/--topic, then SUBSCRIBE ack:client (prefetch
             --prefetch, ACK every prefetch/2) and read them all; --rate as for rabbitmq
  mixed      --producers keyed producers (each its own client) and --consumers consumers (each
             its own client, assigned every Nth partition) at once; values stamped with the
             intended send time: produce->ack and end-to-end percentiles, produced and consumed
             records/s; with --from-start the consumers drain the log from its start (the run
             ends when they reach the end it had when they started, or at --duration)
  connections  open --connections TCP connections, an ApiVersions request/response on each,
             then hold them idle until SIGTERM or --duration (writes --json once all are open,
             again at the end with how many the broker closed meanwhile)
  metadata   --repeat Metadata requests for all topics, then for --topic: latency percentiles
  blast      lean producer, no librdkafka on the data path: one Produce v8 request (a batch of
             --batch-records records, default 32, for every partition; CRC computed once) sent
             over and over on one connection, --window requests in flight (default 8),
             written whole (over TLS: 16 KiB records); -X security.protocol=SSL|SASL_SSL,
             ssl.ca.location, sasl.mechanism=PLAIN, sasl.username, sasl.password as for
             librdkafka (which only creates the topic). Reports client and, with --broker-pid,
             broker CPU seconds and CPU per MB
  fetch-blast  lean consumer, same connection options: Fetch v11 from offset 0 to the high
             watermark of every partition, partitions split into --window groups (default 4) with
             one request in flight each, --batch-size bytes per partition (default 4 MiB)
  txn-blast  lean transactional producers, no librdkafka on the data path: --producers threads,
             each its own transactional id, committing transactions back to back
             (AddPartitionsToTxn, one Produce acks=all per leader with a batch of --batch-records
             records, default 100, for every partition, EndTxn) for --duration seconds; one
             broker or a cluster (leaders and coordinator looked up once, on the first
             --bootstrap address). Reports transactions/s, records/s, latency per transaction
             and per request, client and (--broker-pid) broker CPU
  sink       a receiver that only reads and discards: accepts one connection on --bootstrap
             (TLS with -X security.protocol=SSL -X ssl.keystore.location=PEM), reads until the
             peer closes; its CPU per MB against `blast --acks 0` is the floor under a broker's
             receive path
  startup    run the command after -- --repeat times, report the time from exec to the first
             accepted TCP connection on --bootstrap (within --duration, default 10 s), then
             stop it with SIGTERM

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
  --rate R                offered load in records/s over all producers (latency: required; blast: paces
                          its requests, each timed from its scheduled send)
  --duration S            run for S seconds (stops at --records too if given)
  --warmup S              latency: leave the first S seconds out (default 1)
  --interval S            progress line every S seconds on stderr (default 1)
  --txn-records N         produce: one transaction per N records per producer (each producer
                          gets its own transactional.id; 0 = no transactions, the default)
  --broker-metrics H:P    produce, latency: read runnel's /metrics (admin listener) before and
                          after, and report the broker's stage percentiles (bucket bounds)
  -X key=value            any other librdkafka property
  --window N              nats, rabbitmq, activemq: outstanding publishes (default 4000)
  --queue-type T          rabbitmq: classic (default) or stream
  --prefetch N            rabbitmq, activemq: consumer prefetch (default 1000)
  --repeat N              startup: runs (default 5); metadata: requests of each kind
  --consumers N           mixed: consumers (default 0)
  --keys N                mixed: distinct keys (default 100000)
  --from-start            mixed: consumers start at the beginning of every partition
  --connections N         connections: how many (default 10000)
  --batch-records N       blast: records per partition batch (default 32; txn-blast: 100)
  --no-topic              blast: the peer is a sink, not a broker (no topic to create)
  --idempotent            blast: an idempotent producer (InitProducerId; each batch carries the producer
                          id, epoch and its sequence number, its CRC recomputed per request)
  --broker-pid PID        blast, fetch-blast: also report this process's CPU time (/proc/PID/stat)
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
    } else if (a == "-h" || a == "--help")
      usage(0);
    else if (a == "--bootstrap")
      o.bootstrap = val();
    else if (a == "--topic")
      o.topic = val();
    else if (a == "--records")
      o.records = std::stoull(val()), o.records_given = true;
    else if (a == "--record-size")
      o.record_size = std::stoul(val());
    else if (a == "--partitions")
      o.partitions = std::stoi(val());
    else if (a == "--producers")
      o.producers = std::max(1, std::stoi(val()));
    else if (a == "--acks")
      o.acks = val();
    else if (a == "--compression")
      o.compression = val();
    else if (a == "--linger-ms")
      o.linger_ms = std::stoi(val());
    else if (a == "--batch-size")
      o.batch_size = std::stoi(val());
    else if (a == "--rate")
      o.rate = std::stod(val());
    else if (a == "--duration")
      o.duration = std::stod(val());
    else if (a == "--warmup")
      o.warmup = std::stod(val());
    else if (a == "--interval")
      o.interval = std::stod(val());
    else if (a == "--window")
      o.window = std::max(1, std::stoi(val()));
    else if (a == "--queue-type")
      o.queue_type = val();
    else if (a == "--prefetch")
      o.prefetch = std::max(1, std::stoi(val()));
    else if (a == "--repeat")
      o.repeat = std::max(1, std::stoi(val()));
    else if (a == "--label")
      o.label = val();
    else if (a == "--txn-records")
      o.txn_records = std::stoull(val());
    else if (a == "--consumers")
      o.consumers = std::max(0, std::stoi(val()));
    else if (a == "--keys")
      o.keys = std::max<uint64_t>(1, std::stoull(val()));
    else if (a == "--from-start")
      o.from_start = true;
    else if (a == "--connections")
      o.connections = std::max(1, std::stoi(val()));
    else if (a == "--batch-records")
      o.batch_records = std::max(1, std::stoi(val()));
    else if (a == "--no-topic")
      o.no_topic = true;
    else if (a == "--idempotent")
      o.idempotent = true;
    else if (a == "--broker-pid")
      o.broker_pid = std::stoi(val());
    else if (a == "--broker-metrics")
      o.broker_metrics = val();
    else if (a == "--json")
      o.json = val();
    else if (a == "--quiet")
      o.quiet = true;
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

void report_consume(Result& r, uint64_t got, uint64_t want, uint64_t bytes, double seconds) {
  r.num("consume_records", double(got));
  r.num("consume_seconds", seconds);
  r.num("consume_records_per_s", double(got) / seconds);
  r.num("consume_mb_per_s", double(bytes) / seconds / 1e6);
  if (got < want) r.str("consume_error", fmt::format("received {} of {}", got, want));
}

void progress(const Options& o, const char* what, double t, const std::string& line) {
  if (o.quiet) return;
  fmt::print(stderr, "[{} {:6.1f}s] {}\n", what, t, line);
}

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "runnel-bench: {}\n", what);
  std::exit(1);
}

std::string random_payload(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, 'A');
  for (auto& c : s) c = char('A' + rng() % 26);
  return s;
}

int connect_tcp(const std::string& hostport, bool quiet) {
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

}  // namespace runnel::bench
