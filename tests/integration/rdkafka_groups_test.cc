// librdkafka 2.0.2 (C++ KafkaConsumer::subscribe) consumer groups against a
// runnel broker that this file starts itself ($RUNNEL_BIN), with 1 s minimum
// sessions and no initial rebalance delay, so that the group tests stay fast.
// Skipped when RUNNEL_BIN is not set.
//
//   - three members, three partitions: one partition each, every record once
//   - cooperative-sticky: a second member joining takes one partition away from
//     the first with an incremental revoke; nothing else moves
//   - static membership (group.instance.id): a member restarted quickly gets its
//     partitions back and the other member sees no rebalance
//   - OffsetDelete (rd_kafka_DeleteConsumerGroupOffsets): refused for a topic
//     the active group subscribes to, done for one it does not, and done for
//     every topic once the group is empty
//   - issue 18: a static member replaced by a second consumer with the same
//     group.instance.id is fenced (fatal error) and the new one owns all;
//     a cooperative-sticky consumer closes promptly after one of its two
//     topics is deleted; a regex subscription picks up a new matching topic
//     and drops a deleted one (with and without a rebalance callback)
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
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "local_port.h"

namespace {

using Clock = std::chrono::steady_clock;

using runnel_it::free_port;

bool can_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class GroupBroker {
 public:
  bool start() {
    const char* bin = std::getenv("RUNNEL_BIN");
    if (!bin) return false;
    char tmpl[] = "/tmp/runnel-rdgroups.XXXXXX";
    dir_ = mkdtemp(tmpl);
    port_ = free_port();
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::string log = dir_ + "/broker.log";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(fileno(stdout), 2);
      std::string data = dir_ + "/data";
      execl(bin, bin, "serve", "--data-dir", data.c_str(), "--listen", listen.c_str(), "--set", "num.partitions=3",
            "--set", "auto.create.topics.enable=true", "--set", "group.initial.rebalance.delay.ms=0", "--set",
            "group.min.session.timeout.ms=1000", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (const char* pids = std::getenv("RUNNEL_IT_PIDS")) {
      FILE* f = fopen((std::string(pids) + "/" + std::to_string(pid_)).c_str(), "w");
      if (f) fclose(f);
    }
    for (int i = 0; i < 300; ++i) {
      if (can_connect(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      bool exited = false;
      for (int i = 0; i < 100 && !(exited = waitpid(pid_, &st, WNOHANG) == pid_); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (exited && WIFSIGNALED(st))
        ADD_FAILURE() << "broker crashed in its clean shutdown (signal " << WTERMSIG(st) << ")";
      if (!exited) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
      }
      if (const char* pids = std::getenv("RUNNEL_IT_PIDS"))
        std::filesystem::remove(std::string(pids) + "/" + std::to_string(pid_));
      pid_ = -1;
    }
    if (!dir_.empty() && !std::getenv("KEEP_BROKER_LOGS")) std::filesystem::remove_all(dir_);
  }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

GroupBroker* g_broker = nullptr;

std::unique_ptr<RdKafka::Conf> conf_of(const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> all = {
      {"bootstrap.servers", g_broker->bootstrap()},
      {"socket.timeout.ms", "10000"},
      {"reconnect.backoff.ms", "50"},
      {"reconnect.backoff.max.ms", "500"},
      {"log_level", "3"},
      {"topic.metadata.refresh.interval.ms", "1000"},
  };
  for (const auto& [k, v] : extra) all[k] = v;
  if (const char* debug = std::getenv("RDKAFKA_DEBUG")) all["debug"] = debug, all["log_level"] = "7";
  std::string err;
  for (const auto& [k, v] : all)
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) ADD_FAILURE() << "conf " << k << "=" << v << ": " << err;
  return conf;
}

// Produces n records "prefix<i>" to partition i % 3.
void produce(const std::string& topic, int n, const std::string& prefix) {
  auto conf = conf_of({{"linger.ms", "5"}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  for (int i = 0; i < n; ++i) {
    std::string v = prefix + std::to_string(i);
    auto rc = p->produce(topic, i % 3, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr, 0, 0, nullptr);
    ASSERT_EQ(rc, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(rc);
  }
  ASSERT_EQ(p->flush(15000), RdKafka::ERR_NO_ERROR);
}

// Records every rebalance event and applies it (eager or incremental).
class RebalanceLog : public RdKafka::RebalanceCb {
 public:
  struct Event {
    RdKafka::ErrorCode kind;
    std::set<int32_t> partitions;
  };
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    Event e{err, {}};
    for (auto* tp : parts) e.partitions.insert(tp->partition());
    events.push_back(e);
    bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        delete c->incremental_assign(parts);
      } else {
        c->assign(parts);
      }
    } else {
      if (cooperative) {
        delete c->incremental_unassign(parts);
      } else {
        c->unassign();
      }
    }
  }
  std::vector<Event> events;
};

struct Member {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::unique_ptr<RebalanceLog> log = std::make_unique<RebalanceLog>();
  std::vector<std::tuple<int32_t, int64_t, std::string>> records;
  std::vector<RdKafka::ErrorCode> errors;  // consume() errors other than timeouts and partition EOF

  Member(const std::string& group, const std::string& topic, std::map<std::string, std::string> extra)
      : Member(group, std::vector<std::string>{topic}, std::move(extra), true) {}
  // `topics` may hold regexes ("^..."); without `rebalance_cb` librdkafka applies assignments itself.
  Member(const std::string& group, const std::vector<std::string>& topics, std::map<std::string, std::string> extra,
         bool rebalance_cb) {
    extra.emplace("group.id", group);
    extra.emplace("session.timeout.ms", "3000");
    extra.emplace("heartbeat.interval.ms", "300");
    extra.emplace("auto.offset.reset", "earliest");
    extra.emplace("fetch.wait.max.ms", "100");
    auto conf = conf_of(extra);
    std::string err;
    if (rebalance_cb) conf->set("rebalance_cb", log.get(), err);
    consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    EXPECT_TRUE(consumer) << err;
    EXPECT_EQ(consumer->subscribe(topics), RdKafka::ERR_NO_ERROR);
  }
  void poll(int ms) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(ms));
    if (m->err() == RdKafka::ERR_NO_ERROR)
      records.emplace_back(m->partition(), m->offset(), std::string(static_cast<const char*>(m->payload()), m->len()));
    else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF)
      errors.push_back(m->err());
  }
  std::set<int32_t> assignment() {
    std::set<int32_t> out;
    for (const auto& [t, p] : topic_assignment()) out.insert(p);
    return out;
  }
  std::set<std::pair<std::string, int32_t>> topic_assignment() {
    std::vector<RdKafka::TopicPartition*> parts;
    consumer->assignment(parts);
    std::set<std::pair<std::string, int32_t>> out;
    for (auto* tp : parts) out.insert({tp->topic(), tp->partition()});
    RdKafka::TopicPartition::destroy(parts);
    return out;
  }
  void close() {
    if (consumer) consumer->close();
  }
  // Destroys the consumer, or leaves it to a detached thread when that takes
  // longer than `ms`: librdkafka 2.0.2 can hang in rd_kafka_destroy() once a
  // partition of a deleted topic was removed (a toppar reference leak in the
  // client, fixed in librdkafka 2.1.0: "A reference count issue was blocking
  // the consumer from closing ... if the corresponding topic is deleted").
  // Returns whether the destroy finished in time.
  bool destroy_within(int ms) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread([c = consumer.release(), done] {
      delete c;
      *done = true;
    }).detach();
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (!*done && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return *done;
  }
};

// Polls every member until cond() holds or timeout; returns whether it held.
bool poll_until(std::vector<Member*> ms, int timeout_ms, const std::function<bool()>& cond) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    for (auto* m : ms) m->poll(20);
    if (cond()) return true;
  }
  return false;
}

std::string show(const std::set<int32_t>& s) {
  std::string out = "{";
  for (int32_t p : s) out += std::to_string(p) + ",";
  return out + "}";
}

class RdKafkaGroups : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("RUNNEL_BIN")) return;
    g_broker = new GroupBroker();
    if (!g_broker->start()) {
      g_broker->stop();
      delete g_broker;
      g_broker = nullptr;
      broker_failed_ = true;
    }
  }
  static void TearDownTestSuite() {
    if (g_broker) {
      bool alive = g_broker->alive();
      g_broker->stop();
      delete g_broker;
      g_broker = nullptr;
      EXPECT_TRUE(alive) << "the group broker died during the tests";
    }
  }
  void SetUp() override {
    if (broker_failed_) FAIL() << "could not start the broker ($RUNNEL_BIN)";
    if (!g_broker) GTEST_SKIP() << "RUNNEL_BIN not set";
  }
  static inline bool broker_failed_ = false;
};

TEST_F(RdKafkaGroups, ThreeMembersEachOwnOnePartitionAndEveryRecordOnce) {
  std::string topic = "rdg_abc_" + std::to_string(getpid());
  produce(topic, 3, "warm");
  Member a("rdg-abc", topic, {{"client.id", "a"}}), b("rdg-abc", topic, {{"client.id", "b"}}),
      c("rdg-abc", topic, {{"client.id", "c"}});
  std::vector<Member*> ms{&a, &b, &c};
  auto split = [&] {
    std::multiset<int32_t> all;
    for (auto* m : ms) {
      auto s = m->assignment();
      if (s.size() != 1) return false;
      all.insert(s.begin(), s.end());
    }
    return all == std::multiset<int32_t>{0, 1, 2};
  };
  ASSERT_TRUE(poll_until(ms, 30000, split))
      << "a=" << show(a.assignment()) << " b=" << show(b.assignment()) << " c=" << show(c.assignment());
  produce(topic, 90, "v");
  auto total = [&] {
    size_t n = 0;
    for (auto* m : ms)
      for (auto& r : m->records) n += std::get<2>(r)[0] == 'v';
    return n;
  };
  ASSERT_TRUE(poll_until(ms, 20000, [&] { return total() >= 90; })) << total();
  poll_until(ms, 500, [] { return false; });
  // Only the "v" records count: the warm-up records may legitimately be read
  // twice (by the first member before the split and again by their owner
  // after it, as nothing was committed yet), exactly as with Kafka.
  std::multiset<std::string> values;
  for (auto* m : ms) {
    auto owned = m->assignment();
    size_t mine = 0;
    for (auto& [p, o, v] : m->records) {
      if (v[0] != 'v') continue;
      EXPECT_TRUE(owned.count(p)) << "record " << v << " from partition " << p << " not owned";
      values.insert(v);
      ++mine;
    }
    EXPECT_EQ(mine, 30u);
  }
  std::multiset<std::string> want;
  for (int i = 0; i < 90; ++i) want.insert("v" + std::to_string(i));
  EXPECT_EQ(values, want);
  for (auto* m : ms) m->close();
}

TEST_F(RdKafkaGroups, CooperativeStickyMovesOnlyOnePartition) {
  std::string topic = "rdg_coop_" + std::to_string(getpid());
  produce(topic, 3, "warm");
  std::map<std::string, std::string> coop{{"partition.assignment.strategy", "cooperative-sticky"}};
  Member a("rdg-coop", topic, coop);
  ASSERT_TRUE(poll_until({&a}, 20000, [&] { return a.assignment() == std::set<int32_t>{0, 1, 2}; }));
  EXPECT_EQ(a.consumer->rebalance_protocol(), "COOPERATIVE");
  size_t a_events = a.log->events.size();
  Member b("rdg-coop", topic, coop);
  ASSERT_TRUE(poll_until({&a, &b}, 30000, [&] { return a.assignment().size() == 2 && b.assignment().size() == 1; }))
      << "a=" << show(a.assignment()) << " b=" << show(b.assignment());
  std::set<int32_t> all = a.assignment();
  all.insert(*b.assignment().begin());
  EXPECT_EQ(all, (std::set<int32_t>{0, 1, 2}));
  // a gave up exactly b's partition, incrementally, and never everything
  bool revoked = false;
  for (size_t i = a_events; i < a.log->events.size(); ++i) {
    const auto& e = a.log->events[i];
    if (e.kind == RdKafka::ERR__REVOKE_PARTITIONS) {
      EXPECT_EQ(e.partitions, b.assignment()) << "a revoked " << show(e.partitions);
      revoked = true;
    }
  }
  EXPECT_TRUE(revoked) << "no incremental revoke on a";
  // both still consume
  produce(topic, 30, "c");
  ASSERT_TRUE(poll_until({&a, &b}, 20000, [&] { return a.records.size() + b.records.size() >= 33; }))
      << a.records.size() + b.records.size();
  a.close();
  b.close();
}

TEST_F(RdKafkaGroups, StaticMemberRestartKeepsPartitionsWithoutRebalance) {
  std::string topic = "rdg_static_" + std::to_string(getpid());
  produce(topic, 3, "warm");
  auto cfg = [](const std::string& id) {
    return std::map<std::string, std::string>{{"group.instance.id", id}, {"session.timeout.ms", "6000"}};
  };
  auto a = std::make_unique<Member>("rdg-static", topic, cfg("static-a"));
  Member b("rdg-static", topic, cfg("static-b"));
  ASSERT_TRUE(poll_until({a.get(), &b}, 30000,
                         [&] {
                           auto sa = a->assignment(), sb = b.assignment();
                           return sa.size() + sb.size() == 3 && !sa.empty() && !sb.empty();
                         }))
      << "a=" << show(a->assignment()) << " b=" << show(b.assignment());
  poll_until({a.get(), &b}, 1000, [] { return false; });  // settle
  auto a_parts = a->assignment(), b_parts = b.assignment();
  size_t b_events = b.log->events.size();
  // restart a quickly: a static member does not leave the group on close
  a->close();
  a.reset();
  a = std::make_unique<Member>("rdg-static", topic, cfg("static-a"));
  ASSERT_TRUE(poll_until({a.get(), &b}, 15000, [&] { return !a->assignment().empty(); }));
  EXPECT_EQ(a->assignment(), a_parts);
  poll_until({a.get(), &b}, 2000, [] { return false; });
  EXPECT_EQ(b.log->events.size(), b_events) << "b went through a rebalance";
  EXPECT_EQ(b.assignment(), b_parts);
  EXPECT_EQ(a->assignment(), a_parts);
  a->close();
  b.close();
}

// Deletes the committed offsets of `parts` (topic, partition) with librdkafka's
// admin API; returns the per-partition error codes, or {} on a request error.
std::vector<rd_kafka_resp_err_t> delete_offsets(const std::string& group,
                                                const std::vector<std::pair<std::string, int32_t>>& parts) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", g_broker->bootstrap().c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    ADD_FAILURE() << err;
    return {};
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (const auto& [t, p] : parts) rd_kafka_topic_partition_list_add(list, t.c_str(), p);
  rd_kafka_DeleteConsumerGroupOffsets_t* del = rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteConsumerGroupOffsets(rk, &del, 1, nullptr, q);
  rd_kafka_DeleteConsumerGroupOffsets_destroy(del);
  std::vector<rd_kafka_resp_err_t> out;
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  if (!ev) {
    ADD_FAILURE() << "no DeleteConsumerGroupOffsets result in 15 s";
  } else if (rd_kafka_event_error(ev)) {
    ADD_FAILURE() << "DeleteConsumerGroupOffsets: " << rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_group_result_t** groups =
        rd_kafka_DeleteConsumerGroupOffsets_result_groups(rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
    if (n == 1) {
      if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[0]))
        ADD_FAILURE() << "group error: " << rd_kafka_error_string(e);
      const rd_kafka_topic_partition_list_t* res = rd_kafka_group_result_partitions(groups[0]);
      for (int i = 0; res && i < res->cnt; ++i) out.push_back(res->elems[i].err);
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return out;
}

int64_t committed_offset(RdKafka::KafkaConsumer* c, const std::string& topic, int32_t partition) {
  std::vector<RdKafka::TopicPartition*> tps{RdKafka::TopicPartition::create(topic, partition)};
  c->committed(tps, 10000);
  int64_t offset = tps[0]->offset();
  RdKafka::TopicPartition::destroy(tps);
  return offset;
}

TEST_F(RdKafkaGroups, OffsetDeleteRefusesSubscribedTopicsOfAnActiveGroup) {
  std::string read = "rdg_odel_read_" + std::to_string(getpid());
  std::string other = "rdg_odel_other_" + std::to_string(getpid());
  produce(read, 3, "r");
  produce(other, 3, "o");
  Member m("rdg-odel", read, {{"enable.auto.commit", "false"}});
  ASSERT_TRUE(poll_until({&m}, 30000, [&] { return m.assignment().size() == 3; }));
  // The member commits for its own topic and, as Kafka allows, for another one.
  std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(read, 0, 1),
                                                RdKafka::TopicPartition::create(read, 1, 1),
                                                RdKafka::TopicPartition::create(other, 0, 1)};
  ASSERT_EQ(m.consumer->commitSync(offsets), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(offsets);

  auto errors = delete_offsets("rdg-odel", {{read, 0}, {other, 0}});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
  EXPECT_EQ(errors[1], RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(committed_offset(m.consumer.get(), read, 0), 1);
  EXPECT_EQ(committed_offset(m.consumer.get(), other, 0), RdKafka::Topic::OFFSET_INVALID);

  m.close();  // the group is Empty now
  errors = delete_offsets("rdg-odel", {{read, 0}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], RD_KAFKA_RESP_ERR_NO_ERROR);
  Member again("rdg-odel", read, {{"enable.auto.commit", "false"}});
  EXPECT_EQ(committed_offset(again.consumer.get(), read, 0), RdKafka::Topic::OFFSET_INVALID);
  EXPECT_EQ(committed_offset(again.consumer.get(), read, 1), 1) << "only the asked-for partition is deleted";
  again.close();
}

// Deletes a topic with librdkafka's admin API; returns the topic's error code.
rd_kafka_resp_err_t delete_topic(const std::string& topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", g_broker->bootstrap().c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    ADD_FAILURE() << err;
    return RD_KAFKA_RESP_ERR__FAIL;
  }
  rd_kafka_DeleteTopic_t* del = rd_kafka_DeleteTopic_new(topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteTopics(rk, &del, 1, nullptr, q);
  rd_kafka_DeleteTopic_destroy(del);
  rd_kafka_resp_err_t out = RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000)) {
    out = rd_kafka_event_error(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    if (out == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) out = rd_kafka_topic_result_error(res[0]);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return out;
}

// Runs a shell command; returns its standard output.
std::string run_capture(const std::string& command) {
  std::string out;
  if (FILE* f = popen(command.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    pclose(f);
  }
  return out;
}

using TopicPartitions = std::set<std::pair<std::string, int32_t>>;

// Every partition of `topics`, three each (the broker's num.partitions).
TopicPartitions partitions_of(const std::vector<std::string>& topics) {
  TopicPartitions out;
  for (const auto& t : topics)
    for (int32_t p = 0; p < 3; ++p) out.insert({t, p});
  return out;
}

std::string show(const TopicPartitions& s) {
  std::string out = "{";
  for (const auto& [t, p] : s) out += t + "/" + std::to_string(p) + ",";
  return out + "}";
}

// Whether the members' assignments are disjoint and together exactly `want`.
bool owns_exactly(const std::vector<Member*>& ms, const TopicPartitions& want) {
  TopicPartitions all;
  size_t n = 0;
  for (auto* m : ms) {
    auto a = m->topic_assignment();
    n += a.size();
    all.insert(a.begin(), a.end());
  }
  return n == all.size() && all == want;
}

// Closes the consumer and returns how long close() took.
std::chrono::milliseconds timed_close(Member& m) {
  auto start = Clock::now();
  m.close();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST_F(RdKafkaGroups, ReplacedStaticMemberIsFencedAndTheNewOneOwnsEverything) {
  std::string topic = "rdg_fence_" + std::to_string(getpid());
  produce(topic, 3, "warm");
  std::map<std::string, std::string> cfg{{"group.instance.id", "dup"}, {"session.timeout.ms", "6000"}};
  Member old("rdg-fence", topic, cfg);
  ASSERT_TRUE(poll_until({&old}, 30000, [&] { return old.assignment().size() == 3; }));
  // A second process with the same group.instance.id, as after a redeploy
  // whose old instance is still running: it takes the old member's place.
  Member replacement("rdg-fence", topic, cfg);
  auto fenced = [&] {
    return std::find(old.errors.begin(), old.errors.end(), RdKafka::ERR__FATAL) != old.errors.end();
  };
  ASSERT_TRUE(poll_until({&old, &replacement}, 30000,
                         [&] {
                           return fenced() && replacement.assignment() == std::set<int32_t>{0, 1, 2};
                         }))
      << "old fenced=" << fenced() << " old=" << show(old.assignment())
      << " replacement=" << show(replacement.assignment());
  std::string reason;
  EXPECT_EQ(old.consumer->fatal_error(reason), RdKafka::ERR_FENCED_INSTANCE_ID) << reason;
  // The new member consumes every partition.
  produce(topic, 30, "after");
  auto after = [&] {
    return std::count_if(replacement.records.begin(), replacement.records.end(),
                         [](const auto& r) { return std::get<2>(r).rfind("after", 0) == 0; });
  };
  ASSERT_TRUE(poll_until({&replacement}, 20000, [&] { return after() >= 30; })) << after();
  // `runnel group describe` names the instance id beside the member that owns each partition.
  std::string out = run_capture(std::string(std::getenv("RUNNEL_BIN")) + " group describe rdg-fence --bootstrap " +
                                g_broker->bootstrap());
  EXPECT_NE(out.find("GROUP-INSTANCE-ID"), std::string::npos) << out;
  size_t rows = 0;
  for (size_t pos = out.find("\nrdg-fence "); pos != std::string::npos; pos = out.find("\nrdg-fence ", pos + 1)) {
    std::string line = out.substr(pos + 1, out.find('\n', pos + 1) - pos - 1);
    EXPECT_NE(line.find(" dup "), std::string::npos) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 3u) << out;
  old.close();
  replacement.close();
}

class CooperativeTopicDeleted : public RdKafkaGroups, public ::testing::WithParamInterface<bool> {};

TEST_P(CooperativeTopicDeleted, CloseReturnsPromptly) {
  bool cb = GetParam();
  std::string keep = "rdg_cdel_keep_" + std::to_string(getpid()) + (cb ? "_cb" : "");
  std::string gone = "rdg_cdel_gone_" + std::to_string(getpid()) + (cb ? "_cb" : "");
  produce(keep, 3, "k");
  produce(gone, 3, "g");
  Member m(std::string("rdg-cdel") + (cb ? "-cb" : ""), {keep, gone},
           {{"partition.assignment.strategy", "cooperative-sticky"}}, cb);
  // Consuming from both topics, as a running application does.
  ASSERT_TRUE(poll_until({&m}, 30000,
                         [&] {
                           return m.topic_assignment() == partitions_of({keep, gone}) && m.records.size() >= 6;
                         }))
      << show(m.topic_assignment()) << " " << m.records.size() << " records";
  ASSERT_EQ(delete_topic(gone), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(poll_until({&m}, 30000, [&] { return m.topic_assignment() == partitions_of({keep}); }))
      << show(m.topic_assignment());
  // Still a working member of the group: it reads what is produced next.
  produce(keep, 3, "more");
  ASSERT_TRUE(poll_until({&m}, 20000, [&] {
    return std::count_if(m.records.begin(), m.records.end(),
                         [](const auto& r) { return std::get<2>(r).rfind("more", 0) == 0; }) == 3;
  }));
  auto took = timed_close(m);
  EXPECT_LT(took.count(), 5000) << "close() took " << took.count() << " ms";
  if (!m.destroy_within(5000)) std::cout << "note: librdkafka 2.0.2 destroy hang after a topic deletion (client bug)\n";
}

INSTANTIATE_TEST_SUITE_P(RebalanceCallback, CooperativeTopicDeleted, ::testing::Bool());

class CooperativeRegex : public RdKafkaGroups, public ::testing::WithParamInterface<bool> {};

TEST_P(CooperativeRegex, PicksUpNewTopicsAndDropsDeletedOnes) {
  bool cb = GetParam();
  std::string prefix = "rdg_rx_" + std::to_string(getpid()) + (cb ? "_cb_" : "_");
  std::string first = prefix + "a", second = prefix + "b";
  produce(first, 3, "a");
  std::string group = std::string("rdg-rx") + (cb ? "-cb" : "");
  std::map<std::string, std::string> coop{{"partition.assignment.strategy", "cooperative-sticky"}};
  Member a(group, {"^" + prefix + ".*"}, coop, cb), b(group, {"^" + prefix + ".*"}, coop, cb);
  std::vector<Member*> ms{&a, &b};
  ASSERT_TRUE(poll_until(ms, 30000, [&] { return owns_exactly(ms, partitions_of({first})); }))
      << "a=" << show(a.topic_assignment()) << " b=" << show(b.topic_assignment());
  // A matching topic created after the members joined is picked up...
  produce(second, 3, "b");
  ASSERT_TRUE(poll_until(ms, 30000,
                         [&] {
                           return owns_exactly(ms, partitions_of({first, second}));
                         }))
      << "a=" << show(a.topic_assignment()) << " b=" << show(b.topic_assignment());
  // ...and a deleted one dropped; the group converges again on a balanced
  // split of what is left (cooperative-sticky moves a partition over in a
  // second rebalance when one member lost everything it owned).
  ASSERT_EQ(delete_topic(first), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(poll_until(ms, 30000,
                         [&] {
                           return owns_exactly(ms, partitions_of({second})) && !a.topic_assignment().empty() &&
                                  !b.topic_assignment().empty();
                         }))
      << "a=" << show(a.topic_assignment()) << " b=" << show(b.topic_assignment());
  // Both still read: each of three new records reaches exactly one member.
  // A member may read a record twice: librdkafka drops its own partitions of
  // the deleted topic as soon as its metadata shows the deletion, which makes
  // the split above look final, and the rejoin that follows restarts the
  // fetchers of the partitions it keeps at the committed offset (auto-commit
  // has not run yet), the at-least-once redelivery Kafka gives too. What must
  // never happen is two members both owning a partition and both reading it.
  produce(second, 3, "late");
  auto late_readers = [&] {
    std::map<std::pair<int32_t, int64_t>, std::set<const Member*>> readers;
    for (auto* m : ms)
      for (auto& [p, o, v] : m->records)
        if (v.rfind("late", 0) == 0) readers[{p, o}].insert(m);
    return readers;
  };
  ASSERT_TRUE(poll_until(ms, 20000, [&] { return late_readers().size() >= 3; })) << late_readers().size();
  poll_until(ms, 300, [] { return false; });
  auto readers = late_readers();
  EXPECT_EQ(readers.size(), 3u);
  for (const auto& [at, who] : readers)
    EXPECT_EQ(who.size(), 1u) << "partition " << at.first << " offset " << at.second << " read by both members";
  for (auto* m : ms) {
    auto took = timed_close(*m);
    EXPECT_LT(took.count(), 5000) << "close() took " << took.count() << " ms";
  }
  for (auto* m : ms)
    if (!m->destroy_within(5000))
      std::cout << "note: librdkafka 2.0.2 destroy hang after a topic deletion (client bug)\n";
}

INSTANTIATE_TEST_SUITE_P(RebalanceCallback, CooperativeRegex, ::testing::Bool());

}  // namespace
