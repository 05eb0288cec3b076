#include "admin/metrics_text.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "group/group.h"
#include "kafka/broker.h"
#include "kafka/fetch_session.h"
#include "protocol/messages.h"
#include "server/memory_trimmer.h"

namespace runnel {
namespace {

std::atomic<uint64_t> g_shard_timeouts{0};

// Set when the program's statics are initialised, i.e. at start-up.
const double g_process_start_seconds = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                               std::chrono::system_clock::now().time_since_epoch())
                                                               .count()) /
                                       1e3;

// Label values escaped as the exposition format wants (\\, \", \n).
std::string escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 && v > -1e15)
    return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);  // the shortest text that reads back as v
}

class Text {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    if (labels.empty())
      out_ += fmt::format("{} {}\n", name, number(value));
    else
      out_ += fmt::format("{}{{{}}} {}\n", name, labels, number(value));
  }
  void histogram(std::string_view name, std::string_view labels, const Histogram::Snapshot& h) {
    std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < h.bounds.size(); ++i)
      out_ += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, number(h.bounds[i]), h.cumulative[i]);
    out_ += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, h.count());
    sample(fmt::format("{}_sum", name), labels, h.sum);
    sample(fmt::format("{}_count", name), labels, static_cast<double>(h.count()));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

struct PartitionSample {
  std::string topic;
  int32_t partition = 0;
  bool offline = false;
  bool led_here = false;
  int64_t log_start = 0, log_end = 0, high_watermark = 0, last_stable = 0;
  uint64_t size_bytes = 0;
  cluster::Partition::Traffic traffic;
};

struct GroupSample {
  std::string group_id;
  std::string state;
  size_t members = 0;
  std::vector<group::CommittedOffset> offsets;
};

// What one shard reports, read on its own thread.
struct ShardSample {
  std::vector<PartitionSample> partitions;
  std::vector<GroupSample> groups;
  std::unordered_map<std::string, uint64_t> topic_bytes_out;
};

ShardSample sample_shard(Broker& broker, int shard_id, const std::vector<cluster::TopicInfo>& topics) {
  ShardSample s;
  for (const auto& t : topics) {
    for (int32_t p = 0; p < t.partitions; ++p) {
      if (broker.owner(t.name, p).id() != shard_id) continue;
      PartitionSample ps;
      ps.topic = t.name;
      ps.partition = p;
      ps.offline = broker.is_offline(t.name, p);
      if (auto* part = broker.partition(t.name, p)) {
        ps.led_here = true;
        ps.log_start = part->log_start_offset().value();
        ps.log_end = part->log_end_offset().value();
        ps.high_watermark = part->high_watermark().value();
        ps.last_stable = part->last_stable_offset().value();
        ps.size_bytes = part->size_bytes();
        ps.traffic = part->traffic();
      } else if (!ps.offline) {
        continue;  // a follower replica, or not held here
      }
      s.partitions.push_back(std::move(ps));
    }
  }
  auto& coordinator = broker.coordinator();
  for (const auto& g : coordinator.list()) {
    GroupSample gs;
    gs.group_id = g.group_id;
    gs.state = std::string(group::state_name(g.state));
    gs.members = g.members.size();
    gs.offsets = coordinator.fetch(g.group_id, std::nullopt);
    s.groups.push_back(std::move(gs));
  }
  s.topic_bytes_out = broker.request_metrics(shard_id).topic_bytes_out;
  return s;
}

// Runs sample_shard on the shard's thread and waits up to `timeout`.
std::optional<ShardSample> on_shard_blocking(Broker& broker, int shard_id,
                                             std::shared_ptr<const std::vector<cluster::TopicInfo>> topics,
                                             std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<ShardSample>>();
  auto future = promise->get_future();
  asio::post(broker.shards().at(shard_id).io(), [&broker, shard_id, topics, promise] {
    try {
      promise->set_value(sample_shard(broker, shard_id, *topics));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  if (future.wait_for(timeout) != std::future_status::ready) {
    g_shard_timeouts.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return future.get();
}

void render_requests(Broker& broker, Text& text) {
  struct Api {
    std::map<int, uint64_t> requests;
    uint64_t failed = 0;
    Histogram::Snapshot queue, handle, send;
  };
  std::map<int16_t, Api> apis;
  int64_t open = 0;
  uint64_t accepted = 0, moved = 0, received = 0, sent = 0, marker_connections = 0, verifier_connections = 0;
  for (int i = 0; i < broker.shards().size(); ++i) {
    const auto& m = broker.request_metrics(i);
    open += m.connections_open.load(std::memory_order_relaxed);
    accepted += m.connections_accepted.load(std::memory_order_relaxed);
    moved += m.connections_moved.load(std::memory_order_relaxed);
    received += m.bytes_received.load(std::memory_order_relaxed);
    sent += m.bytes_sent.load(std::memory_order_relaxed);
    marker_connections += m.txn_marker_connections.load(std::memory_order_relaxed);
    verifier_connections += m.txn_verifier_connections.load(std::memory_order_relaxed);
    for (int16_t key = 0; key <= RequestMetrics::kMaxApiKey; ++key) {
      const auto* a = m.find(key);
      if (!a) continue;
      auto& api = apis[key];
      for (int v = 0; v <= RequestMetrics::kMaxVersion; ++v)
        if (auto n = a->requests[static_cast<size_t>(v)].load(std::memory_order_relaxed)) api.requests[v] += n;
      api.failed += a->failed.load(std::memory_order_relaxed);
      api.queue.merge(a->queue.snapshot());
      api.handle.merge(a->handle.snapshot());
      api.send.merge(a->send.snapshot());
    }
  }
  auto label = [](int16_t key) { return fmt::format("api=\"{}\"", protocol::api_name(key)); };
  text.family("runnel_requests_total", "counter", "Requests received, by API and version.");
  for (const auto& [key, api] : apis)
    for (const auto& [v, n] : api.requests)
      text.sample("runnel_requests_total", fmt::format("{},version=\"{}\"", label(key), v), static_cast<double>(n));
  text.family("runnel_request_errors_total", "counter",
              "Requests that closed their connection: malformed, an unsupported version, or a failure while handled.");
  for (const auto& [key, api] : apis)
    text.sample("runnel_request_errors_total", label(key), static_cast<double>(api.failed));
  text.family("runnel_request_queue_seconds", "histogram",
              "Time from a request read to its handler starting (requests of the connection ahead of it).");
  for (const auto& [key, api] : apis)
    if (api.queue.count()) text.histogram("runnel_request_queue_seconds", label(key), api.queue);
  text.family("runnel_request_handle_seconds", "histogram",
              "Time in the request's handler, including waiting for durability (acks=all) or data (fetch).");
  for (const auto& [key, api] : apis)
    if (api.handle.count()) text.histogram("runnel_request_handle_seconds", label(key), api.handle);
  text.family("runnel_request_send_seconds", "histogram",
              "Time from a response ready to it written to the socket (earlier responses of the connection first).");
  for (const auto& [key, api] : apis)
    if (api.send.count()) text.histogram("runnel_request_send_seconds", label(key), api.send);
  Histogram::Snapshot append, wait;
  for (int i = 0; i < broker.shards().size(); ++i) {
    append.merge(broker.request_metrics(i).produce_append.snapshot());
    wait.merge(broker.request_metrics(i).produce_wait.snapshot());
  }
  text.family("runnel_produce_stage_seconds", "histogram",
              "Produce requests' stages: append (handler start to batches appended) and wait (appended to answer "
              "ready: for acks=all, until durable).");
  text.histogram("runnel_produce_stage_seconds", "stage=\"append\"", append);
  text.histogram("runnel_produce_stage_seconds", "stage=\"wait\"", wait);
  text.family("runnel_connections", "gauge", "Open client connections.");
  text.sample("runnel_connections", "", static_cast<double>(open));
  text.family("runnel_fetch_sessions", "gauge", "Fetch sessions (KIP-227) open: a follower's fetcher keeps one.");
  text.sample("runnel_fetch_sessions", "", static_cast<double>(FetchSessions::open_sessions()));
  text.family("runnel_fetch_session_partitions", "gauge", "Partitions held by the open fetch sessions.");
  text.sample("runnel_fetch_session_partitions", "", static_cast<double>(FetchSessions::held_partitions()));
  text.family("runnel_connections_accepted_total", "counter", "Client connections accepted.");
  text.sample("runnel_connections_accepted_total", "", static_cast<double>(accepted));
  text.family("runnel_connections_moved_total", "counter",
              "Client connections moved to the shard that owns the partitions they produce to.");
  text.sample("runnel_connections_moved_total", "", static_cast<double>(moved));
  const RequestMemoryPool& pool = broker.request_memory_pool();
  if (pool.bounded()) {
    text.family("runnel_request_memory_pool_used_bytes", "gauge",
                "Request bytes read and not yet answered, against queued.max.request.bytes.");
    text.sample("runnel_request_memory_pool_used_bytes", "", static_cast<double>(pool.used()));
    text.family("runnel_request_memory_pool_capacity_bytes", "gauge", "queued.max.request.bytes.");
    text.sample("runnel_request_memory_pool_capacity_bytes", "", static_cast<double>(pool.capacity()));
  }
  text.family("runnel_request_memory_pool_waits_total", "counter",
              "Requests left unread in their socket until queued.max.request.bytes had room.");
  text.sample("runnel_request_memory_pool_waits_total", "", static_cast<double>(pool.waits()));
  text.family("runnel_network_received_bytes_total", "counter", "Request bytes read from clients.");
  text.sample("runnel_network_received_bytes_total", "", static_cast<double>(received));
  text.family("runnel_network_sent_bytes_total", "counter", "Response bytes written to clients.");
  text.sample("runnel_network_sent_bytes_total", "", static_cast<double>(sent));
  text.family("runnel_inter_broker_connections_created_total", "counter",
              "Connections opened to other brokers by the transaction senders (each keeps its connection): "
              "txn_markers (WriteTxnMarkers from coordinators), txn_verification (AddPartitionsToTxn from leaders).");
  text.sample("runnel_inter_broker_connections_created_total", "sender=\"txn_markers\"",
              static_cast<double>(marker_connections));
  text.sample("runnel_inter_broker_connections_created_total", "sender=\"txn_verification\"",
              static_cast<double>(verifier_connections));
}

void render_connection_quotas(const Broker& broker, Text& text) {
  const auto& quotas = broker.connection_quotas();
  // One family with a sample per listener: value(i) of listener i, with
  // `labels` after its listener label.
  auto per_listener = [&](const char* name, const char* type, const char* help, auto value,
                          std::string_view labels = "") {
    text.family(name, type, help);
    for (int i = 0; i < static_cast<int>(quotas.listeners().size()); ++i)
      text.sample(name, fmt::format("listener=\"{}\"{}", escape(quotas.listeners()[i]), labels),
                  static_cast<double>(value(i)));
  };
  per_listener(
      "runnel_connections_rejected_total", "counter",
      "Connections closed at once, by listener and reason (per_ip: the address had max.connections.per.ip "
      "or its override).",
      [&](int i) { return quotas.rejected_per_ip(i); }, ",reason=\"per_ip\"");
  per_listener("runnel_connection_accept_blocked_seconds_total", "counter",
               "Time each listener's accept loop waited for a connection slot under max.connections, or for "
               "max.connection.creation.rate (Kafka's AcceptorBlockedPercent).",
               [&](int i) { return static_cast<double>(quotas.blocked_ns(i)) / 1e9; });
  per_listener("runnel_connections_rate_throttled_total", "counter",
               "Accepted connections that waited because the connection creation rate "
               "(max.connection.creation.rate, broker-wide or the listener's) was over its limit, by listener.",
               [&](int i) { return quotas.rate_throttled(i); });
  per_listener("runnel_connections_idle_closed_total", "counter",
               "Connections closed after connections.max.idle.ms with nothing read or written, by listener.",
               [&](int i) { return quotas.idle_closed(i); });
  per_listener("runnel_connections_counted", "gauge",
               "Connections counted against the connection quotas, by listener (in-process ones are not).",
               [&](int i) { return quotas.listener_count(i); });
  per_listener("runnel_connections_excess_closed_total", "counter",
               "Least recently used connections closed because the broker was over max.connections (the "
               "inter-broker listener is exempt from it, or the limit was lowered), by listener.",
               [&](int i) { return quotas.excess_closed(i); });
  per_listener("runnel_connections_ip_throttled_total", "counter",
               "Connections closed after the throttle time because their address was over its "
               "connection_creation_rate client quota, by listener.",
               [&](int i) { return quotas.ip_throttled(i); });
}

void render_client_quotas(Broker& broker, Text& text) {
  using Kind = ClientQuotaManager::Kind;
  auto& quotas = broker.client_quotas();
  const std::pair<Kind, const char*> kinds[] = {
      {Kind::kProduce, "produce"}, {Kind::kFetch, "fetch"}, {Kind::kControllerMutation, "controller_mutation"}};
  text.family("runnel_client_quota_throttled_total", "counter",
              "Requests answered with a throttle time because their client was over its producer_byte_rate "
              "(produce), consumer_byte_rate (fetch) or controller_mutation_rate client quota.");
  for (const auto& [kind, name] : kinds)
    text.sample("runnel_client_quota_throttled_total", fmt::format("quota=\"{}\"", name),
                static_cast<double>(quotas.throttled(kind)));
  // Per group of clients that shares a byte-rate quota, as Kafka's
  // byte-rate metric (user and client-id "" where the quota's level does not
  // name them).
  const auto rates = quotas.group_rates(monotonic_ns() / 1'000'000);
  text.family("runnel_client_quota_byte_rate", "gauge",
              "Bytes per second of a group of clients that shares a producer_byte_rate (produce) or "
              "consumer_byte_rate (fetch) quota, as the quota measures it (over eleven 1 s windows).");
  for (const auto& r : rates)
    text.sample("runnel_client_quota_byte_rate",
                fmt::format("quota=\"{}\",user=\"{}\",client_id=\"{}\"", kinds[static_cast<int>(r.kind)].second,
                            escape(r.user), escape(r.client_id)),
                r.rate);
  text.family("runnel_client_quota_limit", "gauge", "The byte-rate quota of each such group, in bytes per second.");
  for (const auto& r : rates)
    text.sample("runnel_client_quota_limit",
                fmt::format("quota=\"{}\",user=\"{}\",client_id=\"{}\"", kinds[static_cast<int>(r.kind)].second,
                            escape(r.user), escape(r.client_id)),
                r.limit);
  text.family("runnel_client_quota_throttle_seconds_total", "counter",
              "Throttle time given to clients over their client quotas (Kafka's throttle-time).");
  for (const auto& [kind, name] : kinds)
    text.sample("runnel_client_quota_throttle_seconds_total", fmt::format("quota=\"{}\"", name),
                static_cast<double>(quotas.throttle_ms(kind)) / 1e3);
}

void render_storage(Broker& broker, Text& text) {
  text.family("runnel_fdatasync_seconds", "histogram", "Time each fdatasync of a partition file took.");
  text.histogram("runnel_fdatasync_seconds", "", broker.flusher().sync_latency().snapshot());
  text.family("runnel_flush_queue_seconds", "histogram", "Time flush requests waited for a free flusher thread.");
  text.histogram("runnel_flush_queue_seconds", "", broker.flusher().queue_latency().snapshot());
  text.family("runnel_flush_files", "histogram", "Files synced per flush request (one partition's group commit).");
  text.histogram("runnel_flush_files", "", broker.flusher().files_per_request().snapshot());
  text.family("runnel_syncfs_seconds", "histogram",
              "Time each syncfs of the data directory's file system took (many flush requests at once).");
  text.histogram("runnel_syncfs_seconds", "", broker.flusher().syncfs_latency().snapshot());
  text.family("runnel_syncfs_requests", "histogram", "Flush requests made durable by one syncfs.");
  text.histogram("runnel_syncfs_requests", "", broker.flusher().requests_per_syncfs().snapshot());
  text.family("runnel_syncfs_failed", "gauge", "1 once a syncfs failed: the flusher uses fdatasync only since.");
  text.sample("runnel_syncfs_failed", "", broker.flusher().syncfs_failed() ? 1.0 : 0.0);
  text.family("runnel_page_cache_drops_total", "counter",
              "Synced log ranges let go from the page cache (runnel.page.cache.tail.bytes).");
  text.sample("runnel_page_cache_drops_total", "", static_cast<double>(broker.flusher().cache_drop_calls()));
}

void render_shards(Broker& broker, Text& text, std::chrono::milliseconds timeout) {
  auto topics = std::make_shared<const std::vector<cluster::TopicInfo>>(broker.topics().all());
  std::vector<PartitionSample> partitions;
  std::vector<GroupSample> groups;
  std::map<std::string, uint64_t> bytes_out;
  for (int i = 0; i < broker.shards().size(); ++i) {
    auto s = on_shard_blocking(broker, i, topics, timeout);
    if (!s) continue;
    for (auto& p : s->partitions) partitions.push_back(std::move(p));
    for (auto& g : s->groups) groups.push_back(std::move(g));
    for (auto& [t, n] : s->topic_bytes_out) bytes_out[t] += n;
  }
  std::sort(partitions.begin(), partitions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });

  std::map<std::string, cluster::Partition::Traffic> in;
  for (const auto& p : partitions) {
    auto& t = in[p.topic];
    t.records_in += p.traffic.records_in;
    t.bytes_in += p.traffic.bytes_in;
  }
  text.family("runnel_topic_records_in_total", "counter",
              "Records appended to the topic's partitions led here since start-up.");
  for (const auto& [topic, t] : in)
    text.sample("runnel_topic_records_in_total", fmt::format("topic=\"{}\"", escape(topic)),
                static_cast<double>(t.records_in));
  text.family("runnel_topic_bytes_in_total", "counter",
              "Record batch bytes appended to the topic's partitions led here since start-up.");
  for (const auto& [topic, t] : in)
    text.sample("runnel_topic_bytes_in_total", fmt::format("topic=\"{}\"", escape(topic)),
                static_cast<double>(t.bytes_in));
  text.family("runnel_topic_bytes_out_total", "counter", "Record batch bytes sent to consumers since start-up.");
  for (const auto& [topic, n] : bytes_out)
    text.sample("runnel_topic_bytes_out_total", fmt::format("topic=\"{}\"", escape(topic)), static_cast<double>(n));

  auto labels = [](const PartitionSample& p) {
    return fmt::format("topic=\"{}\",partition=\"{}\"", escape(p.topic), p.partition);
  };
  struct Gauge {
    const char* name;
    const char* help;
    int64_t PartitionSample::*field;
  };
  const Gauge gauges[] = {
      {"runnel_partition_log_start_offset", "The partition's first offset (led here).", &PartitionSample::log_start},
      {"runnel_partition_log_end_offset", "The offset the next record gets (led here).", &PartitionSample::log_end},
      {"runnel_partition_high_watermark", "The offset up to which consumers read (led here).",
       &PartitionSample::high_watermark},
      {"runnel_partition_last_stable_offset", "The offset up to which read_committed consumers read (led here).",
       &PartitionSample::last_stable},
  };
  for (const auto& g : gauges) {
    text.family(g.name, "gauge", g.help);
    for (const auto& p : partitions)
      if (p.led_here) text.sample(g.name, labels(p), static_cast<double>(p.*g.field));
  }
  text.family("runnel_partition_size_bytes", "gauge", "Bytes in the partition's segments (led here).");
  for (const auto& p : partitions)
    if (p.led_here) text.sample("runnel_partition_size_bytes", labels(p), static_cast<double>(p.size_bytes));
  text.family("runnel_partitions_offline", "gauge", "Partitions held here whose log failed (KAFKA_STORAGE_ERROR).");
  text.sample(
      "runnel_partitions_offline", "",
      static_cast<double>(std::count_if(partitions.begin(), partitions.end(), [](auto& p) { return p.offline; })));

  // Lag against the high watermark where this broker leads the partition
  // (in a cluster another broker may lead it: no lag from here then).
  std::map<std::pair<std::string, int32_t>, int64_t> hw;
  for (const auto& p : partitions)
    if (p.led_here) hw[{p.topic, p.partition}] = p.high_watermark;
  text.family("runnel_group_members", "gauge", "Members of each consumer group coordinated here.");
  for (const auto& g : groups)
    text.sample("runnel_group_members", fmt::format("group=\"{}\",state=\"{}\"", escape(g.group_id), g.state),
                static_cast<double>(g.members));
  text.family("runnel_group_committed_offset", "gauge", "The group's committed offset per partition.");
  for (const auto& g : groups)
    for (const auto& o : g.offsets)
      if (o.offset >= 0)
        text.sample(
            "runnel_group_committed_offset",
            fmt::format("group=\"{}\",topic=\"{}\",partition=\"{}\"", escape(g.group_id), escape(o.topic), o.partition),
            static_cast<double>(o.offset));
  text.family("runnel_group_lag", "gauge",
              "High watermark minus the group's committed offset, per partition (partitions led here).");
  for (const auto& g : groups)
    for (const auto& o : g.offsets) {
      auto it = hw.find({o.topic, o.partition});
      if (o.offset < 0 || it == hw.end()) continue;
      text.sample(
          "runnel_group_lag",
          fmt::format("group=\"{}\",topic=\"{}\",partition=\"{}\"", escape(g.group_id), escape(o.topic), o.partition),
          static_cast<double>(std::max<int64_t>(0, it->second - o.offset)));
    }

  if (broker.config().clustered()) {
    int64_t under = 0, led = 0;
    for (const auto& t : *topics) {
      for (const auto& l : broker.leadership(t)) {
        if (l.leader != broker.config().node_id) continue;
        ++led;
        if (l.isr.size() < l.replicas.size()) ++under;
      }
    }
    text.family("runnel_partitions_led", "gauge", "Partitions this broker leads.");
    text.sample("runnel_partitions_led", "", static_cast<double>(led));
    text.family("runnel_partitions_under_replicated", "gauge",
                "Partitions this broker leads whose ISR is smaller than their replica set.");
    text.sample("runnel_partitions_under_replicated", "", static_cast<double>(under));
    text.family("runnel_isr_shrinks_total", "counter",
                "ISR shrinks of partitions this broker leads, its own or the controller's (Kafka's IsrShrinksPerSec).");
    text.sample("runnel_isr_shrinks_total", "", static_cast<double>(broker.partition_manager().isr_shrinks()));
    text.family("runnel_isr_expands_total", "counter",
                "ISR expansions of partitions this broker leads (Kafka's IsrExpandsPerSec).");
    text.sample("runnel_isr_expands_total", "", static_cast<double>(broker.partition_manager().isr_expands()));
  }
  text.family("runnel_scrape_shard_timeouts_total", "counter", "Shards that did not answer a scrape in time.");
  text.sample("runnel_scrape_shard_timeouts_total", "",
              static_cast<double>(g_shard_timeouts.load(std::memory_order_relaxed)));
}

// The process collector's standard names, as every Prometheus client library has them.
void render_process(Text& text) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  long page = sysconf(_SC_PAGESIZE);
  uint64_t size_pages = 0, resident_pages = 0;
  if (std::ifstream statm("/proc/self/statm"); statm) statm >> size_pages >> resident_pages;
  size_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  text.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
  text.sample("process_cpu_seconds_total", "", cpu);
  text.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  text.sample("process_resident_memory_bytes", "", static_cast<double>(resident_pages * static_cast<uint64_t>(page)));
  text.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  text.sample("process_virtual_memory_bytes", "", static_cast<double>(size_pages * static_cast<uint64_t>(page)));
  text.family("process_open_fds", "gauge", "Open file descriptors.");
  text.sample("process_open_fds", "", static_cast<double>(fds));
  text.family("process_max_fds", "gauge", "The soft limit on open file descriptors.");
  text.sample("process_max_fds", "", static_cast<double>(limit.rlim_cur));
  text.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
  text.sample("process_start_time_seconds", "", g_process_start_seconds);
  text.family("runnel_memory_trims_total", "counter",
              "Times freed memory was given back to the kernel (malloc_trim) after connections closed or large "
              "request buffers were freed.");
  text.sample("runnel_memory_trims_total", "", static_cast<double>(MemoryTrimmer::trims()));
}

}  // namespace

std::string render_metrics(Broker& broker, std::chrono::milliseconds timeout) {
  Text text;
  render_requests(broker, text);
  render_connection_quotas(broker, text);
  render_client_quotas(broker, text);
  render_storage(broker, text);
  render_shards(broker, text, timeout);
  render_process(text);
  return text.take();
}

}  // namespace runnel
