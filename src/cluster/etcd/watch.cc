#include "cluster/etcd/watch.h"

#include <httplib.h>

#include <condition_variable>

#include "base/thread_name.h"

namespace runnel::cluster::etcd {

Watch::Watch(Options options, EventsFn on_events, CompactedFn on_compacted, ErrorFn on_error)
    : options_(std::move(options)),
      on_events_(std::move(on_events)),
      on_compacted_(std::move(on_compacted)),
      on_error_(std::move(on_error)),
      next_revision_(options_.start_revision) {}

Watch::~Watch() { stop(); }

void Watch::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    name_this_thread("etcd-watch");
    run();
  });
}

void Watch::stop() {
  stopping_ = true;
  {
    std::lock_guard lock(http_mu_);
    if (http_) http_->stop();
  }
  if (thread_.joinable()) thread_.join();
}

void Watch::run() {
  size_t endpoint = 0;
  while (!stopping_) {
    Status why = stream_once(endpoint);
    if (stopping_) break;
    if (why.is_ok()) continue;  // an idle stream re-opened (idle_timeout): not an error
    if (on_error_) on_error_(why);
    if (!options_.client.endpoints.empty()) endpoint = (endpoint + 1) % options_.client.endpoints.size();
    // Sleep in small steps so that stop() is not held up by the backoff.
    auto until = std::chrono::steady_clock::now() + options_.reconnect_backoff;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

Status Watch::stream_once(size_t endpoint_index) {
  if (options_.client.endpoints.empty()) return Status::unavailable("no etcd endpoints configured");
  const auto& e = options_.client.endpoints[endpoint_index];
  httplib::Client http(e.host, e.port);
  http.set_connection_timeout(options_.client.connect_timeout);
  http.set_read_timeout(options_.idle_timeout);
  {
    std::lock_guard lock(http_mu_);
    if (stopping_) return Status::ok();
    http_ = &http;
  }
  struct Unregister {
    Watch* w;
    ~Unregister() {
      std::lock_guard lock(w->http_mu_);
      w->http_ = nullptr;
    }
  } unregister{this};

  WatchStreamSplitter splitter;
  Status ended = Status::unavailable(e.to_string() + ": watch stream ended");
  bool compacted = false;
  int64_t compact_revision = 0;
  bool established = false;  // etcd confirmed the watch on this stream

  httplib::Request req;
  req.method = "POST";
  req.path = "/v3/watch";
  req.body = watch_create_request(options_.key, options_.range_end, next_revision_.load());
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (stopping_) return false;
    splitter.feed(std::string_view(data, n));
    if (splitter.overflowed()) {
      ended = Status::malformed("watch message over the size limit");
      return false;
    }
    while (auto line = splitter.next()) {
      WatchMessage msg;
      if (Status s = decode_watch_message(*line, msg); !s.is_ok()) {
        ended = s;
        return false;
      }
      if (msg.canceled) {
        if (msg.compact_revision > 0) {
          compacted = true;
          compact_revision = msg.compact_revision;
        }
        ended = Status::etcd_error(
            kGrpcOutOfRange,
            "watch cancelled: " + (msg.cancel_reason.empty() ? std::string("compacted") : msg.cancel_reason));
        return false;
      }
      if (msg.created) {
        established = true;
        // Watching "from now": a reconnect must resume right after this point.
        if (next_revision_ == 0) next_revision_ = msg.revision + 1;
      } else if (!msg.events.empty()) {
        // A message holds whole revisions; resume past its last one.
        int64_t last = msg.events.back().kv.mod_revision;
        on_events_(msg.revision, msg.events);
        if (last >= next_revision_) next_revision_ = last + 1;
      } else if (msg.revision >= next_revision_) {
        // A progress notification: nothing up to this revision is pending.
        next_revision_ = msg.revision + 1;
      }
    }
    return true;
  };

  auto result = http.send(req);
  if (compacted) {
    next_revision_ = on_compacted_(compact_revision);
    return Status::etcd_error(kGrpcOutOfRange, "watch start revision compacted at " + std::to_string(compact_revision));
  }
  // Silent for idle_timeout after etcd had confirmed the watch: re-opened
  // at once, quietly (etcd sends progress notifications only every few
  // minutes, so an idle cluster's stream always ends this way).
  if (!result && result.error() == httplib::Error::Read && established && !stopping_) return Status::ok();
  if (!result && ended.code() == Status::Code::kUnavailable) {
    return Status::unavailable(e.to_string() + ": " + httplib::to_string(result.error()));
  }
  if (result && result->status != 200 && ended.code() == Status::Code::kUnavailable) {
    return Status::unavailable(e.to_string() + ": watch answered HTTP " + std::to_string(result->status));
  }
  return ended;
}

}  // namespace runnel::cluster::etcd
