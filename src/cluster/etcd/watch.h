#pragma once
// A watch on a key range in etcd, kept alive across broken connections and
// etcd restarts: it reconnects (to the next endpoint, after a short backoff)
// and resumes one past the last revision it delivered, so no event is missed
// and none is delivered twice. When etcd has compacted the history it would
// need, the watch cannot resume: it calls `on_compacted`, whose answer (a
// revision the caller has re-listed at, plus one) is where it starts again.
//
// Thread-safety: the callbacks run on the watch's own thread, one at a time,
// in revision order. start() and stop() are for the owning thread.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "cluster/etcd/client.h"
#include "cluster/etcd/etcd_format.h"

namespace httplib {
class Client;
}

namespace runnel::cluster::etcd {

class Watch {
 public:
  struct Options {
    ClientOptions client;
    std::string key;
    std::string range_end;       // empty: the one key
    int64_t start_revision = 0;  // 0: from now on
    // How long a stream may stay silent before it is re-opened; etcd's own
    // progress notifications are far apart, so this also bounds how late a
    // silently dead connection is noticed.
    std::chrono::milliseconds idle_timeout{10000};
    std::chrono::milliseconds reconnect_backoff{200};
  };
  // The events of one revision-ordered message; `revision` is the store's.
  using EventsFn = std::function<void(int64_t revision, std::span<const WatchEvent> events)>;
  // History from the resume point is gone; returns the revision to start from.
  using CompactedFn = std::function<int64_t(int64_t compact_revision)>;
  // Optional: told of each failed or ended stream, for logging.
  using ErrorFn = std::function<void(const Status& status)>;

  Watch(Options options, EventsFn on_events, CompactedFn on_compacted, ErrorFn on_error = nullptr);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void start();
  // Ends the stream and joins the thread; no callback runs after it returns.
  void stop();

  // One past the last revision delivered (where a reconnect resumes).
  int64_t next_revision() const { return next_revision_.load(); }

 private:
  void run();
  // One stream from connect to its end; returns why it ended (ok: it stayed
  // silent for idle_timeout and is simply re-opened).
  Status stream_once(size_t endpoint_index);

  const Options options_;
  EventsFn on_events_;
  CompactedFn on_compacted_;
  ErrorFn on_error_;
  std::atomic<int64_t> next_revision_;
  std::atomic<bool> stopping_{false};
  std::mutex http_mu_;  // guards http_ between the watch thread and stop()
  httplib::Client* http_ = nullptr;
  std::thread thread_;
};

}  // namespace runnel::cluster::etcd
