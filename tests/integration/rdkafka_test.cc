// librdkafka (C++ API) against a running runnel broker.
//
// The broker address comes from RUNNEL_BOOTSTRAP (tests/integration/rdkafka.sh
// starts a broker with auto.create.topics.enable=true and num.partitions=1 and
// sets it). No consumer groups: records are read back with the simple consumer
// (start/consume on one partition) or with KafkaConsumer::assign().
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;

std::string bootstrap() {
  const char* b = std::getenv("RUNNEL_BOOTSTRAP");
  return b ? b : "";
}

// Topic names are unique per process so that the suite can be re-run against one broker.
std::string topic_name(const std::string& base) { return base + "_" + std::to_string(getpid()); }

std::unique_ptr<RdKafka::Conf> make_conf(const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  std::map<std::string, std::string> all = {
      {"bootstrap.servers", bootstrap()},
      {"socket.timeout.ms", "10000"},
      {"reconnect.backoff.ms", "50"},
      {"reconnect.backoff.max.ms", "500"},
      {"log_level", "3"},
  };
  for (const auto& [k, v] : extra) all[k] = v;
  for (const auto& [k, v] : all) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) ADD_FAILURE() << "conf " << k << "=" << v << ": " << err;
  }
  return conf;
}

struct Report {
  RdKafka::ErrorCode err;
  int32_t partition;
  int64_t offset;
  std::string value;
  size_t index;  // position in the produce call
};

class DeliveryCollector : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    reports.push_back({m.err(), m.partition(), m.offset(),
                       std::string(static_cast<const char*>(m.payload()), m.len()),
                       reinterpret_cast<size_t>(m.msg_opaque())});
  }
  std::vector<Report> reports;
};

struct Msg {
  std::optional<std::string> key;
  std::optional<std::string> value;
  int32_t partition = 0;
  int64_t timestamp = 0;  // 0: let the producer set it
  Headers headers;
};

struct Record {
  int32_t partition;
  int64_t offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  RdKafka::MessageTimestamp timestamp;
  Headers headers;
};

Record to_record(RdKafka::Message& m) {
  Record r{m.partition(), m.offset(), std::nullopt, std::nullopt, m.timestamp(), {}};
  if (m.key()) r.key = *m.key();
  if (m.payload()) r.value = std::string(static_cast<const char*>(m.payload()), m.len());
  if (RdKafka::Headers* h = m.headers()) {
    for (const auto& hdr : h->get_all()) {
      std::optional<std::string> v;
      if (hdr.value()) v = std::string(static_cast<const char*>(hdr.value()), hdr.value_size());
      r.headers.emplace_back(hdr.key(), v);
    }
  }
  return r;
}

// Produces msgs in order and waits for every delivery report.
std::vector<Report> produce(const std::string& topic, const std::vector<Msg>& msgs,
                            std::map<std::string, std::string> extra = {}) {
  DeliveryCollector dr;
  auto conf = make_conf(extra);
  std::string err;
  conf->set("dr_cb", &dr, err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) {
    ADD_FAILURE() << "producer: " << err;
    return {};
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Msg& m = msgs[i];
    RdKafka::Headers* headers = nullptr;
    if (!m.headers.empty()) {
      headers = RdKafka::Headers::create();
      for (const auto& [k, v] : m.headers) {
        if (v)
          headers->add(k, v->data(), v->size());
        else
          headers->add(k, nullptr, 0);
      }
    }
    RdKafka::ErrorCode e;
    while (true) {
      e = p->produce(topic, m.partition, RdKafka::Producer::RK_MSG_COPY,
                     m.value ? const_cast<char*>(m.value->data()) : nullptr, m.value ? m.value->size() : 0,
                     m.key ? m.key->data() : nullptr, m.key ? m.key->size() : 0, m.timestamp, headers,
                     reinterpret_cast<void*>(i));
      if (e != RdKafka::ERR__QUEUE_FULL) break;
      p->poll(10);
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      delete headers;  // ownership passes to librdkafka only on success
      ADD_FAILURE() << "produce " << i << ": " << RdKafka::err2str(e);
    }
    p->poll(0);
  }
  EXPECT_EQ(p->flush(15000), RdKafka::ERR_NO_ERROR) << "flush timed out";
  p->poll(0);
  return dr.reports;
}

// Reads topic/partition from `start` with the simple (group-less) consumer until
// the end of the partition, once at least `at_least` records have arrived.
std::vector<Record> consume(const std::string& topic, int32_t partition, int64_t start, size_t at_least,
                            std::map<std::string, std::string> extra = {}, int timeout_ms = 15000) {
  extra.emplace("fetch.wait.max.ms", "100");
  extra.emplace("enable.partition.eof", "true");
  auto conf = make_conf(extra);
  std::string err;
  std::unique_ptr<RdKafka::Consumer> c(RdKafka::Consumer::create(conf.get(), err));
  std::vector<Record> out;
  if (!c) {
    ADD_FAILURE() << "consumer: " << err;
    return out;
  }
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), topic, nullptr, err));
  EXPECT_EQ(c->start(t.get(), partition, start), RdKafka::ERR_NO_ERROR);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(t.get(), partition, 200));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      out.push_back(to_record(*m));
    } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (out.size() >= at_least) break;
    } else if (m->err() != RdKafka::ERR__TIMED_OUT) {
      ADD_FAILURE() << "consume error: " << m->errstr();
      break;
    }
  }
  c->stop(t.get(), partition);
  EXPECT_GE(out.size(), at_least) << "timed out consuming " << topic << "-" << partition;
  return out;
}

std::vector<Msg> numbered(const std::string& prefix, size_t n, int32_t partition = 0) {
  std::vector<Msg> v;
  for (size_t i = 0; i < n; ++i) v.push_back({std::nullopt, prefix + std::to_string(i), partition, 0, {}});
  return v;
}

class RdKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (bootstrap().empty()) GTEST_SKIP() << "RUNNEL_BOOTSTRAP is not set (run tests/integration/run.sh)";
  }
};

TEST_F(RdKafkaTest, ProduceAcksAllDeliveryReports) {
  auto topic = topic_name("rk_acks_all");
  auto reports = produce(topic, numbered("all-", 100), {{"acks", "all"}, {"linger.ms", "5"}});
  ASSERT_EQ(reports.size(), 100u);
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    EXPECT_EQ(r.err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(r.err);
    EXPECT_EQ(r.index, i) << "delivery reports out of order";
    EXPECT_EQ(r.partition, 0);
    EXPECT_EQ(r.offset, static_cast<int64_t>(i));
  }
  auto recs = consume(topic, 0, RdKafka::Topic::OFFSET_BEGINNING, 100);
  ASSERT_EQ(recs.size(), 100u);
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(recs[i].value, "all-" + std::to_string(i));
    EXPECT_FALSE(recs[i].key.has_value());
  }
}

TEST_F(RdKafkaTest, ProduceAcksOneAndZero) {
  auto topic = topic_name("rk_acks_1_0");
  auto r1 = produce(topic, numbered("one-", 10), {{"acks", "1"}});
  ASSERT_EQ(r1.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(r1[i].err, RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(r1[i].offset, static_cast<int64_t>(i));
  }
  auto r0 = produce(topic, numbered("zero-", 10), {{"acks", "0"}});
  ASSERT_EQ(r0.size(), 10u);
  for (const auto& r : r0) EXPECT_EQ(r.err, RdKafka::ERR_NO_ERROR);
  auto recs = consume(topic, 0, RdKafka::Topic::OFFSET_BEGINNING, 20);
  ASSERT_EQ(recs.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(recs[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(recs[i].value, (i < 10 ? "one-" : "zero-") + std::to_string(i % 10));
  }
}

TEST_F(RdKafkaTest, ConsumeFromOffsetAndFromTail) {
  auto topic = topic_name("rk_offsets");
  ASSERT_EQ(produce(topic, numbered("o", 20)).size(), 20u);
  auto recs = consume(topic, 0, 13, 7);
  ASSERT_EQ(recs.size(), 7u);
  EXPECT_EQ(recs.front().offset, 13);
  EXPECT_EQ(recs.front().value, "o13");
  EXPECT_EQ(recs.back().offset, 19);
  auto tail = consume(topic, 0, RdKafka::Consumer::OffsetTail(2), 2);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].offset, 18);
  EXPECT_EQ(tail[1].value, "o19");
}

// KafkaConsumer::assign() with explicit offsets: no subscribe, no commits.
// (The C++ KafkaConsumer insists on a group.id, but assign() never joins it.)
TEST_F(RdKafkaTest, KafkaConsumerAssignFromOffset) {
  auto topic = topic_name("rk_assign");
  ASSERT_EQ(produce(topic, numbered("a", 30)).size(), 30u);
  auto conf = make_conf({{"group.id", "rk-assign-unused"},
                         {"enable.auto.commit", "false"},
                         {"enable.auto.offset.store", "false"},
                         {"fetch.wait.max.ms", "100"},
                         {"log_level", "0"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  ASSERT_TRUE(c) << err;
  std::vector<RdKafka::TopicPartition*> parts = {RdKafka::TopicPartition::create(topic, 0, 21)};
  ASSERT_EQ(c->assign(parts), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<Record> got;
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (got.size() < 9 && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (m->err() == RdKafka::ERR_NO_ERROR) got.push_back(to_record(*m));
  }
  c->unassign();
  c->close();
  ASSERT_EQ(got.size(), 9u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<int64_t>(21 + i));
    EXPECT_EQ(got[i].value, "a" + std::to_string(21 + i));
  }
}

class CompressionTest : public RdKafkaTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(CompressionTest, RoundTrip) {
  const std::string codec = GetParam();
  auto topic = topic_name("rk_codec_" + codec);
  std::vector<Msg> msgs;
  for (int i = 0; i < 500; ++i) {
    std::string v;
    for (int j = 0; j < i % 30; ++j) v += "payload-" + std::to_string(i) + ";";
    msgs.push_back({"key-" + std::to_string(i % 13), v, 0, 0, {}});
  }
  auto reports = produce(topic, msgs, {{"compression.codec", codec}, {"linger.ms", "30"}, {"batch.num.messages", "200"}});
  ASSERT_EQ(reports.size(), 500u);
  for (size_t i = 0; i < reports.size(); ++i) {
    ASSERT_EQ(reports[i].err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(reports[i].err);
    EXPECT_EQ(reports[i].offset, static_cast<int64_t>(reports[i].index));
  }
  auto recs = consume(topic, 0, RdKafka::Topic::OFFSET_BEGINNING, 500);
  ASSERT_EQ(recs.size(), 500u);
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(recs[i].key, msgs[i].key);
    EXPECT_EQ(recs[i].value, msgs[i].value);
  }
  // from the middle of a compressed batch: the client skips the earlier records
  auto mid = consume(topic, 0, 250, 250);
  ASSERT_EQ(mid.size(), 250u);
  EXPECT_EQ(mid.front().offset, 250);
  EXPECT_EQ(mid.front().value, msgs[250].value);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionTest, ::testing::Values("gzip", "snappy", "lz4", "zstd"),
                         [](const auto& info) { return info.param; });

TEST_F(RdKafkaTest, HeadersAndTimestamps) {
  auto topic = topic_name("rk_headers");
  const int64_t base_ts = 1650000000000;
  std::vector<Msg> msgs = {
      {"k0", "v0", 0, base_ts, {{"h1", "a"}, {"h2", std::string("\0bin\xff", 5)}, {"h1", "again"}}},
      {"k1", "v1", 0, base_ts + 1000, {{"empty", ""}, {"null", std::nullopt}}},
      {std::nullopt, std::nullopt, 0, base_ts - 5000, {}},  // older timestamp than the previous ones
  };
  auto reports = produce(topic, msgs, {{"linger.ms", "0"}});
  ASSERT_EQ(reports.size(), 3u);
  for (const auto& r : reports) EXPECT_EQ(r.err, RdKafka::ERR_NO_ERROR);
  auto recs = consume(topic, 0, RdKafka::Topic::OFFSET_BEGINNING, 3);
  ASSERT_EQ(recs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(recs[i].key, msgs[i].key) << i;
    EXPECT_EQ(recs[i].value, msgs[i].value) << i;
    EXPECT_EQ(recs[i].timestamp.type, RdKafka::MessageTimestamp::MSG_TIMESTAMP_CREATE_TIME) << i;
    EXPECT_EQ(recs[i].timestamp.timestamp, msgs[i].timestamp) << i;
    EXPECT_EQ(recs[i].headers, msgs[i].headers) << i;
  }
}

TEST_F(RdKafkaTest, LongPollFetchWaitsForData) {
  auto topic = topic_name("rk_longpoll");
  ASSERT_EQ(produce(topic, numbered("first-", 1)).size(), 1u);
  // A long max wait: a broker that answers only after max_wait_ms, and not as soon
  // as data arrives, fails the latency check below.
  auto conf = make_conf({{"fetch.wait.max.ms", "5000"}, {"fetch.min.bytes", "1"}});
  std::string err;
  std::unique_ptr<RdKafka::Consumer> c(RdKafka::Consumer::create(conf.get(), err));
  ASSERT_TRUE(c) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), topic, nullptr, err));
  ASSERT_EQ(c->start(t.get(), 0, 1), RdKafka::ERR_NO_ERROR);
  // let the consumer connect and park its first fetch at the log end
  {
    std::unique_ptr<RdKafka::Message> m(c->consume(t.get(), 0, 500));
    EXPECT_NE(m->err(), RdKafka::ERR_NO_ERROR) << "unexpected record before the producer sent one";
  }
  std::atomic<int64_t> delivered_at_ms{-1};
  auto t0 = Clock::now();
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    auto r = produce(topic, numbered("late-", 1), {{"linger.ms", "0"}});
    if (r.size() == 1 && r[0].err == RdKafka::ERR_NO_ERROR)
      delivered_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  });
  std::optional<Record> got;
  int64_t received_at_ms = -1;
  while (!got && Clock::now() - t0 < std::chrono::seconds(12)) {
    std::unique_ptr<RdKafka::Message> m(c->consume(t.get(), 0, 100));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      got = to_record(*m);
      received_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    }
  }
  producer.join();
  c->stop(t.get(), 0);
  ASSERT_TRUE(got.has_value()) << "the consumer never received the late record";
  EXPECT_EQ(got->offset, 1);
  EXPECT_EQ(got->value, "late-0");
  ASSERT_GE(delivered_at_ms.load(), 0);
  EXPECT_GE(received_at_ms, 900) << "received before it was produced?";
  EXPECT_LT(received_at_ms, 2500) << "fetch answered only after max_wait_ms (5000), not when data arrived; "
                                  << "delivered at " << delivered_at_ms.load() << " ms";
}

TEST_F(RdKafkaTest, MetadataReportsAutoCreatedTopic) {
  auto topic = topic_name("rk_meta");
  ASSERT_EQ(produce(topic, numbered("m", 1)).size(), 1u);
  auto conf = make_conf({});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  ASSERT_EQ(p->metadata(false, t.get(), &md, 5000), RdKafka::ERR_NO_ERROR);
  std::unique_ptr<RdKafka::Metadata> owned(md);
  ASSERT_EQ(md->brokers()->size(), 1u);
  const auto* b = (*md->brokers())[0];
  EXPECT_EQ(b->host() + ":" + std::to_string(b->port()), bootstrap());
  ASSERT_EQ(md->topics()->size(), 1u);
  const auto* tm = (*md->topics())[0];
  EXPECT_EQ(tm->topic(), topic);
  EXPECT_EQ(tm->err(), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(tm->partitions()->size(), 1u);  // num.partitions=1
  EXPECT_EQ((*tm->partitions())[0]->leader(), b->id());
}

TEST_F(RdKafkaTest, QueryWatermarkOffsets) {
  auto topic = topic_name("rk_watermarks");
  ASSERT_EQ(produce(topic, numbered("w", 42)).size(), 42u);
  auto conf = make_conf({});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  int64_t low = -5, high = -5;
  ASSERT_EQ(p->query_watermark_offsets(topic, 0, &low, &high, 5000), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 42);
}

TEST_F(RdKafkaTest, OffsetsForTimes) {
  auto topic = topic_name("rk_times");
  std::vector<Msg> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back({std::nullopt, "t" + std::to_string(i), 0, 1000 * (i + 1), {}});
  ASSERT_EQ(produce(topic, msgs, {{"linger.ms", "0"}}).size(), 10u);
  auto conf = make_conf({});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  std::vector<RdKafka::TopicPartition*> q = {RdKafka::TopicPartition::create(topic, 0, 3500)};
  ASSERT_EQ(p->offsetsForTimes(q, 5000), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(q[0]->err(), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(q[0]->offset(), 3);
  RdKafka::TopicPartition::destroy(q);
}

TEST_F(RdKafkaTest, ProduceToMissingPartitionFails) {
  auto topic = topic_name("rk_missing_part");
  ASSERT_EQ(produce(topic, numbered("x", 1)).size(), 1u);
  DeliveryCollector dr;
  auto conf = make_conf({{"message.timeout.ms", "3000"}});
  std::string err;
  conf->set("dr_cb", &dr, err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  ASSERT_EQ(p->metadata(false, t.get(), &md, 5000), RdKafka::ERR_NO_ERROR);
  delete md;
  std::string v = "nope";
  auto e = p->produce(topic, 5, RdKafka::Producer::RK_MSG_COPY, v.data(), v.size(), nullptr, 0, 0, nullptr);
  if (e == RdKafka::ERR_NO_ERROR) {
    p->flush(5000);
    ASSERT_EQ(dr.reports.size(), 1u);
    e = dr.reports[0].err;
  }
  EXPECT_EQ(e, RdKafka::ERR__UNKNOWN_PARTITION) << RdKafka::err2str(e);
}

}  // namespace
