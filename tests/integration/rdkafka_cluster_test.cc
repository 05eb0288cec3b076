// librdkafka (C++ API) against a runnel cluster this test starts itself: a real
// etcd (Debian's /usr/bin/etcd, flags as tests/integration/python/etcd.py) and
// three brokers from $RUNNEL_BIN, each on free loopback ports with its own temp
// data dir, all killed on teardown.
//
// A topic with 3 partitions, replication factor 3 and min.insync.replicas=2. A
// producer (acks=all, not idempotent, delivery reports) keeps sending while the
// leader of partition 0 is killed with SIGKILL, another broker takes over, and
// the killed broker comes back (same node id, port and data dir) and rejoins
// every ISR. Then every delivered record is read back at exactly the partition
// and offset its delivery report gave, with its value. Skips itself when
// /usr/bin/etcd is absent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "local_port.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kEtcd = "/usr/bin/etcd";
constexpr int kPartitions = 3;
constexpr int kBatch = 20;

using runnel_it::free_port;

// Connects to 127.0.0.1:port, sends `request` (if any) and returns what comes back ("" if nothing).
std::string exchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    out = "connected";
    if (!request.empty() && write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[512];
      ssize_t n = read(fd, buf, sizeof buf);
      out = n > 0 ? std::string(buf, n) : "";
    }
  }
  close(fd);
  return out;
}

std::string file_tail(const std::string& path, size_t n = 3000) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  std::string all = s.str();
  return all.size() > n ? all.substr(all.size() - n) : all;
}

// One child process: fork/exec with stdout+stderr to a log file, listed in
// $RUNNEL_IT_PIDS (run.sh kills leftovers) while it runs.
class Child {
 public:
  ~Child() { kill9(); }
  void start(const std::vector<std::string>& argv, const std::string& log) {
    log_ = log;
    exit_ = -1;
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log.c_str(), "a", stdout);
      (void)f;
      dup2(fileno(stdout), 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    if (const char* pids = std::getenv("RUNNEL_IT_PIDS")) std::ofstream(std::string(pids) + "/" + std::to_string(pid_));
  }
  // True while running; a child that exited on its own stays "not alive" with its status.
  bool alive() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exit_ = st;
      forget();
      return false;
    }
    return true;
  }
  bool died() { return !alive() && exit_ != -1; }
  std::string status() const {
    if (exit_ == -1) return "running or stopped by the test";
    if (WIFSIGNALED(exit_)) return std::string("killed by signal ") + std::to_string(WTERMSIG(exit_));
    return "exit code " + std::to_string(WEXITSTATUS(exit_));
  }
  void kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    forget();
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        if (WIFSIGNALED(st)) ADD_FAILURE() << "broker crashed in its clean shutdown (signal " << WTERMSIG(st) << ")";
        forget();
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    kill9();
  }
  const std::string& log() const { return log_; }

 private:
  void forget() {
    if (const char* pids = std::getenv("RUNNEL_IT_PIDS"))
      std::filesystem::remove(std::string(pids) + "/" + std::to_string(pid_));
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int exit_ = -1;
  std::string log_;
};

struct BrokerProc {
  int node = 0;
  int port = 0;
  std::string dir;
  Child proc;
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port); }
};

// etcd + N brokers; the destructor kills them all (also when an assertion failed).
class Cluster {
 public:
  explicit Cluster(int size) : size_(size) {
    char tmpl[] = "/tmp/runnel-rdcluster.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~Cluster() {
    for (auto& [n, b] : brokers_) b.proc.stop();
    etcd_.kill9();
    if (!std::getenv("KEEP_BROKER_LOGS"))
      std::filesystem::remove_all(dir_);
    else
      std::fprintf(stderr, "kept cluster dir %s\n", dir_.c_str());
  }

  bool start(std::string& why) {
    etcd_port_ = free_port();
    int peer_port = free_port();
    std::string url = etcd_url(), peer = "http://127.0.0.1:" + std::to_string(peer_port);
    etcd_.start(
        {kEtcd, "--name=it", "--data-dir=" + dir_ + "/etcd", "--listen-client-urls=" + url,
         "--advertise-client-urls=" + url, "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
         "--initial-cluster=it=" + peer, "--log-outputs=" + dir_ + "/etcd.log", "--logger=zap"},
        dir_ + "/etcd.out");
    const std::string ping =
        "POST /v3/kv/range HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 14\r\nConnection: close\r\n\r\n{\"key\":\"AA==\"}";
    bool up = false;
    for (auto deadline = Clock::now() + 15s; Clock::now() < deadline && etcd_.alive();
         std::this_thread::sleep_for(100ms)) {
      if (exchange(etcd_port_, ping).rfind("HTTP/1.1 200", 0) == 0) {
        up = true;
        break;
      }
    }
    if (!up) {
      why = "etcd did not start on " + url + ": " + file_tail(dir_ + "/etcd.out");
      return false;
    }
    for (int n = 1; n <= size_; ++n) {
      auto& b = brokers_[n];
      b.node = n;
      b.port = free_port();
      b.dir = dir_ + "/broker" + std::to_string(n);
      std::filesystem::create_directories(b.dir + "/data");
      if (!start_broker(n, why)) return false;
    }
    return true;
  }

  bool start_broker(int n, std::string& why) {
    auto& b = brokers_.at(n);
    const char* bin = std::getenv("RUNNEL_BIN");
    b.proc.start(
        {bin, "serve", "--data-dir", b.dir + "/data", "--listen", b.bootstrap(), "--node-id", std::to_string(n),
         "--etcd", etcd_url(), "--set", "num.partitions=1", "--set", "auto.create.topics.enable=true", "--set",
         "broker.session.timeout.ms=2000", "--set", "replica.lag.time.max.ms=1500"},
        b.dir + "/broker.log");
    for (auto deadline = Clock::now() + 15s; Clock::now() < deadline && b.proc.alive();
         std::this_thread::sleep_for(50ms)) {
      if (exchange(b.port, "") == "connected") return true;
    }
    why = "broker " + std::to_string(n) + " did not start on " + b.bootstrap() + ":\n" + file_tail(b.proc.log());
    return false;
  }

  // Brokers other than `except` that died on their own, with their log tails ("" if none).
  std::string deaths(int except = 0) {
    std::string out;
    for (auto& [n, b] : brokers_)
      if (n != except && b.proc.died())
        out += "broker " + std::to_string(n) + " died (" + b.proc.status() + "); log tail:\n" +
               file_tail(b.proc.log()) + "\n";
    return out;
  }

  std::string bootstrap() const {
    std::string s;
    for (const auto& [n, b] : brokers_) s += (s.empty() ? "" : ",") + b.bootstrap();
    return s;
  }
  std::string etcd_url() const { return "http://127.0.0.1:" + std::to_string(etcd_port_); }
  BrokerProc& broker(int n) { return brokers_.at(n); }
  std::vector<int> nodes() const {
    std::vector<int> v;
    for (const auto& [n, b] : brokers_) v.push_back(n);
    return v;
  }

 private:
  int size_;
  std::string dir_;
  int etcd_port_ = 0;
  Child etcd_;
  std::map<int, BrokerProc> brokers_;
};

std::unique_ptr<RdKafka::Conf> conf_of(const std::string& bootstrap, const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  std::map<std::string, std::string> all = {
      {"bootstrap.servers", bootstrap},
      {"socket.timeout.ms", "10000"},
      {"reconnect.backoff.ms", "50"},
      {"reconnect.backoff.max.ms", "500"},
      {"topic.metadata.refresh.interval.ms", "1000"},
      {"log_level", "0"},
  };
  if (const char* debug = std::getenv("RDKAFKA_DEBUG")) all["debug"] = debug, all["log_level"] = "7";
  for (const auto& [k, v] : extra) all[k] = v;
  for (const auto& [k, v] : all)
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) ADD_FAILURE() << "conf " << k << "=" << v << ": " << err;
  return conf;
}

struct PartitionState {
  int32_t leader = -1;
  std::vector<int32_t> isr;
};

// The topic's partitions as one broker reports them, through a one-broker client ({} on any error).
std::map<int32_t, PartitionState> topic_state(const std::string& bootstrap, const std::string& topic) {
  std::map<int32_t, PartitionState> out;
  auto conf = conf_of(bootstrap, {});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) return out;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  if (p->metadata(false, t.get(), &md, 2000) != RdKafka::ERR_NO_ERROR || !md) return out;
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic || tm->err() != RdKafka::ERR_NO_ERROR) continue;
    for (const auto* pm : *tm->partitions()) {
      if (pm->err() != RdKafka::ERR_NO_ERROR) continue;
      out[pm->id()] = {pm->leader(), *pm->isrs()};
    }
  }
  delete md;
  return out;
}

// How many brokers one broker's metadata lists (0 on any error): a broker answers on its port before
// every peer's registration has reached it, and CreateTopics with RF 3 counts only the registered ones.
size_t brokers_seen_by(const std::string& bootstrap) {
  auto conf = conf_of(bootstrap, {});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) return 0;
  RdKafka::Metadata* md = nullptr;
  if (p->metadata(false, nullptr, &md, 2000) != RdKafka::ERR_NO_ERROR || !md) return 0;
  const size_t n = md->brokers()->size();
  delete md;
  return n;
}

std::string show(const std::map<int32_t, PartitionState>& s) {
  std::string out = "{";
  for (const auto& [p, st] : s) {
    out += std::to_string(p) + ": leader " + std::to_string(st.leader) + " isr [";
    for (auto n : st.isr) out += std::to_string(n) + " ";
    out += "], ";
  }
  return out + "}";
}

// CreateTopics with the C admin API; "" on success, else the error.
std::string create_topic(const std::string& bootstrap, const std::string& topic, int partitions, int rf,
                         const std::map<std::string, std::string>& configs) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return err;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, rf, err, sizeof err);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  std::string result = "no CreateTopics result";
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000)) {
    if (rd_kafka_event_error(ev)) {
      result = rd_kafka_event_error_string(ev);
    } else if (const auto* res = rd_kafka_event_CreateTopics_result(ev)) {
      size_t n = 0;
      const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
      result = n == 1 && rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_NO_ERROR
                   ? ""
                   : std::string(n ? rd_kafka_err2str(rd_kafka_topic_result_error(topics[0])) : "empty result");
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return result;
}

struct Delivery {
  RdKafka::ErrorCode err;
  int32_t partition;
  int64_t offset;
  std::string value;
};

class Deliveries : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    std::lock_guard<std::mutex> lock(mu);
    list.push_back({m.err(), m.partition(), m.offset(), std::string(static_cast<const char*>(m.payload()), m.len())});
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++ok;
      if (m.partition() == 0 && after_failover) ++ok_p0_after_failover;
    }
  }
  std::mutex mu;
  std::vector<Delivery> list;
  std::atomic<int64_t> ok{0};
  std::atomic<bool> after_failover{false};
  std::atomic<int64_t> ok_p0_after_failover{0};
};

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  for (auto deadline = Clock::now() + timeout; Clock::now() < deadline; std::this_thread::sleep_for(100ms))
    if (cond()) return true;
  return cond();
}

TEST(RdKafkaCluster, DeliveredRecordsSurviveTheSigkillOfPartition0sLeaderAndItsReturn) {
  if (access(kEtcd, X_OK) != 0) GTEST_SKIP() << kEtcd << " is not installed (etcd-server; make deps installs it)";
  if (!std::getenv("RUNNEL_BIN")) GTEST_SKIP() << "RUNNEL_BIN not set";
  const auto started = Clock::now();
  Cluster cluster(3);
  std::string why;
  ASSERT_TRUE(cluster.start(why)) << why;
  ASSERT_TRUE(wait_until(
      [&] {
        for (int n : cluster.nodes())
          if (brokers_seen_by(cluster.broker(n).bootstrap()) != 3) return false;
        return true;
      },
      20s))
      << "every broker sees 3 registered brokers" << cluster.deaths();

  const std::string topic = "rdfailover";
  ASSERT_EQ(create_topic(cluster.bootstrap(), topic, kPartitions, 3, {{"min.insync.replicas", "2"}}), "");
  std::map<int32_t, PartitionState> placed;
  ASSERT_TRUE(wait_until(
      [&] {
        placed = topic_state(cluster.broker(1).bootstrap(), topic);
        return placed.size() == kPartitions && std::all_of(placed.begin(), placed.end(), [](const auto& kv) {
                 return kv.second.leader > 0 && kv.second.isr.size() == 3;
               });
      },
      20s))
      << "3 partitions with 3 in-sync replicas: " << show(placed) << cluster.deaths();
  const int victim = placed[0].leader;
  int other = 0;
  for (int n : cluster.nodes())
    if (n != victim && !other) other = n;

  Deliveries deliveries;
  auto pconf = conf_of(cluster.bootstrap(), {{"acks", "all"},
                                             {"enable.idempotence", "false"},
                                             {"message.timeout.ms", "30000"},
                                             {"retry.backoff.ms", "100"},
                                             {"linger.ms", "5"}});
  std::string err;
  ASSERT_EQ(pconf->set("dr_cb", &deliveries, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  ASSERT_TRUE(producer) << err;

  std::atomic<bool> producing{true};
  std::atomic<int64_t> produced{0};
  std::thread loop([&] {
    for (int64_t batch = 0; producing; ++batch) {
      for (int i = 0; i < kBatch; ++i) {
        std::string value = "b" + std::to_string(batch) + "-" + std::to_string(i);
        auto e = producer->produce(topic, i % kPartitions, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                   nullptr, 0, 0, nullptr);
        if (e == RdKafka::ERR_NO_ERROR)
          ++produced;
        else
          producer->poll(10);
      }
      // Keep a bounded number of records in flight.
      do producer->poll(5);
      while (producing && produced - static_cast<int64_t>(deliveries.list.size()) > 2000);
    }
  });
  struct Joiner {  // stops the producer thread on every exit path
    std::atomic<bool>& flag;
    std::thread& t;
    ~Joiner() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } joiner{producing, loop};

  std::this_thread::sleep_for(2s);
  const int64_t before_kill = deliveries.ok;
  ASSERT_GT(before_kill, 0) << "nothing delivered before the kill";
  ASSERT_EQ(cluster.deaths(), "");

  cluster.broker(victim).proc.kill9();
  const auto killed_at = Clock::now();
  std::map<int32_t, PartitionState> view;
  ASSERT_TRUE(wait_until(
      [&] {
        view = topic_state(cluster.broker(other).bootstrap(), topic);
        return cluster.deaths(victim) != "" || (view.count(0) && view[0].leader > 0 && view[0].leader != victim);
      },
      20s))
      << "a new leader for partition 0: " << show(view);
  ASSERT_EQ(cluster.deaths(victim), "");
  const auto moved_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count();
  deliveries.after_failover = true;
  std::this_thread::sleep_for(2s);

  ASSERT_TRUE(cluster.start_broker(victim, why)) << why;
  ASSERT_TRUE(wait_until(
      [&] {
        view = topic_state(cluster.broker(other).bootstrap(), topic);
        return cluster.deaths() != "" ||
               (view.size() == kPartitions && std::all_of(view.begin(), view.end(), [&](const auto& kv) {
                  return std::count(kv.second.isr.begin(), kv.second.isr.end(), victim) == 1;
                }));
      },
      30s))
      << "broker " << victim << " back in every ISR: " << show(view);
  ASSERT_EQ(cluster.deaths(), "");
  std::this_thread::sleep_for(1s);
  producing = false;
  loop.join();
  EXPECT_EQ(producer->flush(30000), RdKafka::ERR_NO_ERROR) << "flush timed out";
  ASSERT_EQ(cluster.deaths(), "");
  EXPECT_GT(deliveries.ok_p0_after_failover, 0) << "nothing delivered on partition 0 after the failover";

  std::map<std::string, int64_t> errors;
  for (const auto& d : deliveries.list)
    if (d.err != RdKafka::ERR_NO_ERROR) ++errors[RdKafka::err2str(d.err)];
  std::string error_list;
  for (const auto& [e, n] : errors) error_list += e + " x" + std::to_string(n) + "; ";
  std::printf("victim %d, new leader after %lld ms; %lld produced, %lld delivered (%lld before the kill), errors: %s\n",
              victim, static_cast<long long>(moved_ms), static_cast<long long>(produced.load()),
              static_cast<long long>(deliveries.ok.load()), static_cast<long long>(before_kill), error_list.c_str());

  // Read everything back with assign() from offset 0 up to each high watermark.
  auto cconf = conf_of(cluster.bootstrap(), {{"group.id", "rdcluster-assign-unused"},
                                             {"enable.auto.commit", "false"},
                                             {"enable.partition.eof", "true"},
                                             {"fetch.wait.max.ms", "100"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cconf.get(), err));
  ASSERT_TRUE(consumer) << err;
  std::map<int32_t, int64_t> high;
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t lo = -1, hi = -1;
    ASSERT_EQ(consumer->query_watermark_offsets(topic, p, &lo, &hi, 10000), RdKafka::ERR_NO_ERROR);
    high[p] = hi;
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (int32_t p = 0; p < kPartitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p, 0));
  ASSERT_EQ(consumer->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  std::map<std::pair<int32_t, int64_t>, std::string> got;
  std::map<int32_t, int64_t> next;
  std::vector<std::string> conflicts;
  auto done = [&] {
    return std::all_of(high.begin(), high.end(), [&](const auto& kv) { return next[kv.first] >= kv.second; });
  };
  for (auto deadline = Clock::now() + 30s; !done() && Clock::now() < deadline;) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    std::string v(static_cast<const char*>(m->payload()), m->len());
    auto key = std::make_pair(m->partition(), m->offset());
    if (got.count(key) && got[key] != v) conflicts.push_back(std::to_string(m->offset()));
    got[key] = v;
    next[m->partition()] = std::max(next[m->partition()], m->offset() + 1);
  }
  consumer->close();
  ASSERT_TRUE(done()) << "the consumer did not reach the high watermarks";
  EXPECT_TRUE(conflicts.empty()) << conflicts.size() << " offsets read twice with different values";
  for (const auto& [p, h] : high)
    for (int64_t o = 0; o < h; ++o)
      EXPECT_TRUE(got.count({p, o})) << "partition " << p << " offset " << o << " (< high watermark " << h
                                     << ") was not read";

  std::map<std::string, std::pair<int32_t, int64_t>> where;
  for (const auto& [k, v] : got) where[v] = k;
  int64_t missing = 0, wrong = 0, delivered = 0;
  for (const auto& d : deliveries.list) {
    if (d.err != RdKafka::ERR_NO_ERROR) continue;
    ++delivered;
    auto it = got.find({d.partition, d.offset});
    std::string found = where.count(d.value) ? "found at " + std::to_string(where[d.value].first) + ":" +
                                                   std::to_string(where[d.value].second)
                                             : "not read anywhere";
    if (it == got.end()) {
      if (++missing <= 20)
        ADD_FAILURE() << "delivered " << d.value << " at " << d.partition << ":" << d.offset << " is missing; "
                      << found;
    } else if (it->second != d.value) {
      if (++wrong <= 20)
        ADD_FAILURE() << "delivered " << d.value << " at " << d.partition << ":" << d.offset << " but it holds "
                      << it->second << "; " << found;
    }
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(cluster.deaths(), "");
  std::printf("read %zu records; %lld delivered, %lld missing, %lld elsewhere; %.1f s\n", got.size(),
              static_cast<long long>(delivered), static_cast<long long>(missing), static_cast<long long>(wrong),
              std::chrono::duration<double>(Clock::now() - started).count());
}

}  // namespace
