#pragma once
// One client connection: reads size-prefixed request frames, dispatches each
// to its handler, and writes the responses in request order. File slices in a
// response go out with sendfile, or, on a TLS connection, are read into the
// connection's TLS write buffer with the rest of the responses and encrypted
// in as few writes as it allows (with kTLS: SSL_sendfile; see tls_socket.h).
//
// On a SASL listener a client must authenticate first: until it has, only
// ApiVersions, SaslHandshake and SaslAuthenticate (or, after a SaslHandshake
// v0, bare SASL tokens) are served, and anything else closes the connection,
// as Kafka does. The session (security/session.h) carries the principal.
//
// Requests are pipelined only where that cannot reorder anything: the next
// request is read once the current one is *ordered* (see
// RequestContext::ordered; Produce is ordered once its batches are appended,
// every other request once it is finished). So Produce requests of one
// connection are appended in the order they were sent, yet acks=all requests
// in flight on one connection share one fdatasync instead of waiting for one
// each. A connection has at most kMaxInFlight requests, or kMaxInFlightBytes
// of request frames, in progress (always at least one), and reads a request
// only once the broker's queued.max.request.bytes has room for it
// (kafka/request_memory_pool.h).
//
// A request whose client went over a client quota (producer_byte_rate,
// consumer_byte_rate) is answered at once with its throttle time; the
// connection then reads nothing more for that long (Kafka mutes the channel
// after the response, KIP-219). Requests already read go on.
//
// A connection may also come from inside the process (Listener::
// connect_in_process: the admin listener's REST proxy and console): its
// identity is vouched for by the process, so it starts authenticated as that
// principal, with no TLS and no SASL exchange.
//
// A connection moves to another shard when its produces keep going there:
// after kMoveAfterProduces Produce requests in a row whose partitions all
// belong to one other shard (twice as many for each move after), it stops
// reading, answers what is in flight, and run() ends with moving_to() set;
// the listener hands the socket over (detach_socket() here, attach() there)
// and runs it on that shard. Each such request otherwise hops to the
// partitions' shard and back: two more thread wake-ups per request
// (bench/README.md "Moving a connection to its partitions' shard"). TLS and
// in-process connections do not move.
//
// Thread-safety: a Connection is used only on its current shard; it changes
// shards only between run()s, handed over by a posted task.
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/broker_config.h"
#include "kafka/fetch_partition_cache.h"
#include "kafka/fetch_session.h"
#include "kafka/request_memory_pool.h"
#include "kafka/request_metrics.h"
#include "protocol/writer.h"
#include "security/session.h"
#include "security/ssl_principal_mapper.h"

namespace runnel {

class Broker;
class Shard;
class TlsSocket;
struct HandlerEntry;

// Who an in-process connection acts for: the principal ("User:alice") and
// the address of the HTTP client behind it ("10.0.0.5:51234"), which ACL
// host patterns match and the logs name.
struct VouchedIdentity {
  std::string principal;
  std::string peer;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `tls`: the listener's TLS context (SSL, SASL_SSL), else null;
  // `principal_mapper`: an SSL listener's ssl.principal.mapping.rules;
  // `vouched`: an in-process connection's identity (then `tls` is null).
  Connection(Broker& broker, Shard& shard, asio::ip::tcp::socket socket, const ListenerConfig& listener,
             std::shared_ptr<asio::ssl::context> tls,
             std::shared_ptr<const security::SslPrincipalMapper> principal_mapper = nullptr,
             const VouchedIdentity* vouched = nullptr);
  ~Connection();
  // Serves the connection until the peer closes it, a request is malformed,
  // or close() is called; then closes the socket.
  asio::awaitable<void> run();
  // Closes the socket: a pending read or write fails, run() ends, and
  // requests in flight are not answered. Call on the connection's shard.
  void close();

  // Whether nothing was read or written for longer than `max_idle_ns` (at
  // `now_ns`, monotonic) while no request is in flight: Kafka's
  // connections.max.idle.ms, which the listener enforces. In-process
  // connections (the REST proxy's, the console's) never are.
  bool idle_longer_than(int64_t now_ns, int64_t max_idle_ns) const {
    return !in_process_ && in_flight_.empty() && now_ns - last_activity_ns_ > max_idle_ns;
  }

  // Logs, once each, the requests read more than `threshold_ns` before
  // `now_ns` and still not answered (the listener's sweep calls it): a
  // request no handler finishes holds back every later one of its
  // connection, and its client sees only timeouts. A JoinGroup may wait that
  // long by design (the group's rebalance timeout): logged at info.
  void log_unanswered(int64_t now_ns, int64_t threshold_ns);

  // When something was last read or written (monotonic ns), and whether the
  // connection comes from inside the process: the listener closes the least
  // recently used client connection when the broker is over max.connections.
  int64_t last_activity_ns() const { return last_activity_ns_; }
  bool in_process() const { return in_process_; }

  // After run() ended: the shard to move to, or null when the connection is
  // over (closed, failed, or not moving).
  Shard* moving_to() const { return moving_ && !closed_ ? move_to_ : nullptr; }
  // On the old shard, after run() ended with moving_to() set: takes the
  // socket off this shard and returns its descriptor (-1 on failure: the
  // socket is closed), and binds the connection's timers to `target`.
  int detach_socket(Shard& target);
  // On `target`'s thread: adopts the descriptor detach_socket() gave; the
  // connection then belongs to `target`, and run() may start there. False
  // (the descriptor closed) when it cannot.
  bool attach(Shard& target, int fd);

 private:
  struct InFlight;
  static constexpr size_t kMaxInFlight = 1024;
  static constexpr size_t kMaxInFlightBytes = 64 << 20;

  // A request frame's bytes. Not zero-filled, and recycled: the frames of a
  // busy producer connection are large, and fresh ones cost a memset plus a
  // page fault per page (12% of broker CPU at 1 KiB x 16 partitions).
  struct Frame {
    std::unique_ptr<uint8_t[]> bytes;
    size_t capacity = 0;
    size_t size = 0;
    void resize(size_t n);
    std::span<uint8_t> span() { return {bytes.get(), size}; }
  };
  static constexpr size_t kMaxSpareFrames = 4;
  static constexpr size_t kMaxSpareFrameBytes = 8 << 20;
  static constexpr size_t kMaxResponsesPerWrite = 64;
  // Produce requests in a row to one other shard's partitions before the
  // connection moves there: a producer that spreads over shards never moves,
  // one that settles on one shard's partitions moves once. Each move doubles
  // the streak the next one needs (up to kMaxMoveStreak): librdkafka, which
  // often names one partition per request, sent runs of 8 to one shard by
  // chance while producing to 16 partitions over both, and moved back and
  // forth (bench/README.md "Connections that moved back and forth").
  static constexpr int kMoveAfterProduces = 32;
  static constexpr int kMaxMoveStreak = 4096;
  // Kafka's sasl.server.max.receive.size: the largest frame before authentication.
  static constexpr int32_t kMaxUnauthenticatedFrame = 524288;
  static constexpr auto kTlsHandshakeTimeout = std::chrono::seconds(10);
  // queued.max.request.bytes: how soon a reader retries an exhausted pool.
  static constexpr auto kPoolRetryMin = std::chrono::milliseconds(1);
  static constexpr auto kPoolRetryMax = std::chrono::milliseconds(32);
  Frame take_frame(size_t size);
  void recycle(Frame frame);

  asio::awaitable<void> read_loop();
  // A client over a quota: reads nothing until throttled_until_ns_.
  asio::awaitable<void> wait_out_throttle();
  static constexpr int64_t kThrottleStepNs = 100'000'000;
  // A lease of `size` request bytes from the broker's pool once a first try
  // found it exhausted (an empty lease if the connection closes meanwhile).
  // Not a coroutine on the way of every request: without a limit, and under
  // it, the reader takes its lease inline.
  asio::awaitable<RequestMemoryPool::Lease> wait_for_request_bytes(int32_t size);
  asio::awaitable<void> write_loop();
  asio::awaitable<void> handle(InFlight& request);
  // A bare SASL token (after SaslHandshake v0).
  asio::awaitable<void> handle_raw_token(InFlight& request);
  // The TLS handshake, bounded by kTlsHandshakeTimeout; false when it failed.
  asio::awaitable<bool> tls_handshake();
  asio::awaitable<size_t> read_some(asio::mutable_buffer buffer);
  asio::awaitable<void> write_all(const std::vector<asio::const_buffer>& buffers);
  // Reads exactly n bytes, through the read buffer: one recv usually brings
  // several pipelined requests.
  asio::awaitable<void> read_exact(uint8_t* dst, size_t n);
  // Writes the responses of these requests, in order, with as few syscalls
  // as their file slices allow.
  asio::awaitable<void> write_responses(const std::vector<std::shared_ptr<InFlight>>& batch);
  // The same on a TLS connection: gathered into tls_out_ (file slices read
  // into it), encrypted and written each time it is full and at the end.
  asio::awaitable<void> write_responses_tls(const std::vector<std::shared_ptr<InFlight>>& batch);
  asio::awaitable<void> tls_append(const uint8_t* data, size_t size);
  asio::awaitable<void> tls_append_file(const FileSlice& slice);
  asio::awaitable<void> tls_flush();
  asio::awaitable<void> send_file(const FileSlice& slice);
  void log_error(const std::exception& e) const;
  // After a Produce: counts towards moving to the shard of its partitions
  // (`owner`, null when several shards own them).
  void note_produce_shard(Shard* owner);

  Broker& broker_;
  Shard* shard_;
  RequestMetrics* metrics_;  // the shard's
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::shared_ptr<const security::SslPrincipalMapper> principal_mapper_;
  std::unique_ptr<TlsSocket> tls_;
  // What a TLS connection writes next, up to kTlsWriteBytes per SSL_write
  // (16 records): allocated at the first response, kept.
  static constexpr size_t kTlsWriteBytes = 256 << 10;
  std::unique_ptr<uint8_t[]> tls_out_;
  size_t tls_out_size_ = 0;
  security::Session session_;
  FetchPartitionCache fetch_partitions_;
  FetchSessions fetch_sessions_;
  std::string peer_;
  bool in_process_ = false;
  // When a request began to arrive or responses were last written (monotonic).
  int64_t last_activity_ns_ = 0;
  // Until when (monotonic ns; 0: not) the connection reads no request: its
  // client went over a client quota (RequestContext::throttle_ms).
  int64_t throttled_until_ns_ = 0;
  // Requests read and not yet answered, oldest first.
  std::deque<std::shared_ptr<InFlight>> in_flight_;
  std::vector<Frame> spare_frames_;
  static constexpr size_t kReadBufferSize = 64 << 10;
  std::unique_ptr<uint8_t[]> read_buffer_;
  size_t read_begin_ = 0;
  size_t read_end_ = 0;
  size_t in_flight_bytes_ = 0;
  // Wake-ups between the reader, the writer and the handlers; all run on this
  // shard's thread, so a flag checked before waiting cannot miss a wake-up.
  asio::steady_timer reader_wake_;
  asio::steady_timer writer_wake_;
  bool reader_done_ = false;
  bool writer_done_ = false;
  bool closed_ = false;
  // Moving (see above): whether this connection may move, the shard its
  // last Produce requests went to and how many in a row, how many the next
  // move needs, the shard chosen, and whether run() ended to move there.
  bool movable_ = false;
  Shard* streak_shard_ = nullptr;
  int produce_streak_ = 0;
  int move_streak_ = kMoveAfterProduces;
  Shard* move_to_ = nullptr;
  bool moving_ = false;
  asio::ip::tcp protocol_ = asio::ip::tcp::v4();
};

}  // namespace runnel
