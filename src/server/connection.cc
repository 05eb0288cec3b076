#include "server/connection.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/endian.h"
#include "kafka/broker.h"
#include "kafka/handler.h"
#include "kafka/handlers/api_versions.h"
#include "kafka/sasl_exchange.h"
#include "protocol/messages.h"
#include "security/tls_context.h"
#include "server/memory_trimmer.h"
#include "server/tls_socket.h"

namespace runnel {
namespace {
constexpr int16_t kProduceKey = 0;
constexpr int16_t kJoinGroupKey = 11;
constexpr int16_t kApiVersionsKey = 18;
constexpr int16_t kSaslHandshakeKey = 17;
constexpr int16_t kSaslAuthenticateKey = 36;
constexpr size_t kMinRequestSize = 8;  // api key, version, correlation id
}  // namespace

// One request between being read and being answered. Owns its frame: the
// handler decodes from it, and Produce appends its batches from it in place.
struct Connection::InFlight {
  InFlight(Broker& broker, Shard& shard) : ctx{broker, shard, 0, 0, 0, std::nullopt, {}, {}, nullptr, {}} {}
  Frame frame;
  size_t body_offset = 0;  // where the request body starts in frame
  RequestContext ctx;
  const HandlerEntry* handler = nullptr;
  bool flexible_header = false;    // response header v1
  bool ordered = false;            // the next request may be read
  bool done = false;               // response ready (or none is due)
  bool close_after = false;        // failed: close once earlier answers are out
  bool close_after_write = false;  // close once this answer is out (failed authentication)
  bool raw = false;                // a bare SASL token: answered with a size prefix only
  bool logged_unanswered = false;  // log_unanswered() named it already
  HandlerResult response;
  // monotonic_ns() when the frame was read, the handler started and it finished.
  int64_t received_ns = 0, started_ns = 0, ordered_ns = 0, finished_ns = 0;
  RequestMetrics::Api* metrics = nullptr;  // the API's counters on this shard
  // The frame's bytes in queued.max.request.bytes, returned when the request
  // is answered (or dropped with its connection).
  RequestMemoryPool::Lease lease;
};

namespace {

// Parks the calling coroutine until wake(timer) cancels the wait.
asio::awaitable<void> wait_for_wake(asio::steady_timer& timer) {
  timer.expires_at(asio::steady_timer::time_point::max());
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void wake(asio::steady_timer& timer) { timer.cancel(); }

// The peer went away (or we closed the socket under a pending operation): a
// normal end of a connection, whichever call noticed it. asio reports errno
// values in its own system category, a raw syscall (sendfile) in the standard
// one, and the two do not compare equal, so the value is checked in either.
bool is_disconnect(const std::error_code& code) {
  if (code == asio::error::eof || code == asio::error::operation_aborted) return true;
  // A TLS peer that closes its socket without a close_notify (most clients).
  if (code == asio::ssl::error::stream_truncated) return true;
  const auto& category = code.category();
  if (category != asio::error::get_system_category() && category != std::system_category() &&
      category != std::generic_category())
    return false;
  switch (code.value()) {
    case EPIPE:
    case ECONNRESET:
    case ECONNABORTED:
    case ENOTCONN:
    case EBADF:
      return true;
    default:
      return false;
  }
}

}  // namespace

Connection::Connection(Broker& broker, Shard& shard, asio::ip::tcp::socket socket, const ListenerConfig& listener,
                       std::shared_ptr<asio::ssl::context> tls,
                       std::shared_ptr<const security::SslPrincipalMapper> principal_mapper,
                       const VouchedIdentity* vouched)
    : broker_(broker),
      shard_(&shard),
      metrics_(&broker.request_metrics(shard.id())),
      socket_(std::move(socket)),
      tls_context_(std::move(tls)),
      principal_mapper_(std::move(principal_mapper)),
      reader_wake_(shard.io()),
      writer_wake_(shard.io()) {
  RequestMetrics::add(metrics_->connections_accepted);
  metrics_->connections_open.fetch_add(1, std::memory_order_relaxed);
  session_.listener = listener.name;
  session_.protocol = listener.protocol;
  session_.authenticated = !uses_sasl(listener.protocol);
  if (tls_context_) tls_ = std::make_unique<TlsSocket>(socket_, *tls_context_);
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (vouched) {
    session_.principal = vouched->principal;
    session_.authenticated = true;
    peer_ = vouched->peer;
  }
  movable_ = !tls_context_ && !vouched;
  in_process_ = vouched != nullptr;
  last_activity_ns_ = monotonic_ns();
}

Connection::~Connection() { metrics_->connections_open.fetch_sub(1, std::memory_order_relaxed); }

void Connection::log_error(const std::exception& e) const {
  if (dynamic_cast<const protocol::DecodeError*>(&e)) {
    spdlog::warn("{}: closing connection: malformed request: {}", peer_, e.what());
  } else if (auto* se = dynamic_cast<const std::system_error*>(&e)) {
    if (is_disconnect(se->code()))
      spdlog::debug("{}: client disconnected: {}", peer_, e.what());  // e.g. a consumer closing mid long-poll
    else if (!closed_)
      spdlog::warn("{}: connection error: {}", peer_, e.what());
  } else {
    spdlog::error("{}: closing connection after an internal error: {}", peer_, e.what());
  }
}

asio::awaitable<bool> Connection::tls_handshake() {
  // A client that never completes the handshake (or a plaintext client,
  // waiting for an answer to its first request) is dropped after a while.
  auto self = shared_from_this();
  asio::steady_timer deadline(shard_->io());
  deadline.expires_after(kTlsHandshakeTimeout);
  deadline.async_wait([this, self](std::error_code ec) {
    if (ec) return;
    std::error_code ignored;
    socket_.close(ignored);
  });
  std::error_code ec = co_await tls_->handshake();
  deadline.cancel();
  if (ec) {
    spdlog::info("{}: TLS handshake failed on listener {}: {}", peer_, session_.listener, ec.message());
    co_return false;
  }
  // Mutual TLS: on an SSL listener the certificate names the principal (on
  // SASL_SSL, SASL does).
  // Its subject goes through ssl.principal.mapping.rules; when no rule
  // applies the client is not authenticated, as in Kafka.
  if (session_.protocol == SecurityProtocol::kSsl) {
    if (auto subject = security::certificate_subject(tls_->native_handle())) {
      auto name = principal_mapper_ ? principal_mapper_->name(*subject) : std::optional<std::string>(*subject);
      if (!name) {
        spdlog::warn(
            "{}: no ssl.principal.mapping.rules rule applies to the client certificate {} on listener {}: "
            "connection closed",
            peer_, *subject, session_.listener);
        co_return false;
      }
      session_.principal = "User:" + *name;
      spdlog::info("{}: client certificate on listener {}: principal {}", peer_, session_.listener, session_.principal);
    }
  }
  co_return true;
}

asio::awaitable<void> Connection::run() {
  auto self = shared_from_this();
  if (tls_) {
    bool ok = false;
    try {
      ok = co_await tls_handshake();
    } catch (const std::exception& e) {
      log_error(e);
    }
    if (!ok) {
      std::error_code ec;
      socket_.close(ec);
      co_return;
    }
  }
  asio::co_spawn(
      shard_->executor(), [self] { return self->write_loop(); }, asio::detached);
  try {
    co_await read_loop();
  } catch (const std::exception& e) {
    log_error(e);
  }
  // The writer answers what was read before it closes the socket.
  reader_done_ = true;
  wake(writer_wake_);
  while (!writer_done_) co_await wait_for_wake(reader_wake_);
}

asio::awaitable<void> Connection::read_loop() {
  for (;;) {
    if (move_to_) {
      // Moving: nothing more is read here; what is in flight is answered
      // first, then run() ends and the listener hands the socket over.
      while (!closed_ && !writer_done_ && !in_flight_.empty()) co_await wait_for_wake(reader_wake_);
      moving_ = !closed_ && !writer_done_;
      co_return;
    }
    while (!closed_ && !writer_done_ && !in_flight_.empty() &&
           (in_flight_.size() >= kMaxInFlight || in_flight_bytes_ >= kMaxInFlightBytes || !in_flight_.back()->ordered))
      co_await wait_for_wake(reader_wake_);
    if (closed_ || writer_done_ || session_.close_after_response) co_return;
    if (throttled_until_ns_ > 0) co_await wait_out_throttle();
    if (closed_ || writer_done_) co_return;

    uint8_t size_bytes[4];
    co_await read_exact(size_bytes, sizeof size_bytes);
    last_activity_ns_ = monotonic_ns();
    int32_t size = static_cast<int32_t>(load_be32(size_bytes));
    if (!session_.authenticated && (size < 0 || size > kMaxUnauthenticatedFrame)) {
      spdlog::warn("{}: closing connection: frame of {} bytes before authentication", peer_, size);
      co_return;
    }
    if (session_.raw_tokens) {
      auto request = std::make_shared<InFlight>(broker_, *shard_);
      if (!broker_.request_memory_pool().try_acquire(size, &request->lease)) {
        request->lease = co_await wait_for_request_bytes(size);
        if (closed_) co_return;
      }
      request->frame = take_frame(static_cast<size_t>(size));
      co_await read_exact(request->frame.bytes.get(), request->frame.size);
      request->raw = true;
      request->ctx.peer = peer_;
      request->ctx.session = &session_;
      in_flight_.push_back(request);
      in_flight_bytes_ += request->frame.size;
      auto self = shared_from_this();
      asio::co_spawn(
          shard_->executor(), [self, request] { return self->handle_raw_token(*request); }, asio::detached);
      continue;
    }
    if (size < static_cast<int32_t>(kMinRequestSize) || size > broker_.config().socket_request_max_bytes) {
      spdlog::warn("{}: closing connection: request size {} outside [{}, {}] (socket.request.max.bytes)", peer_, size,
                   kMinRequestSize, broker_.config().socket_request_max_bytes);
      co_return;
    }
    auto request = std::make_shared<InFlight>(broker_, *shard_);
    if (!broker_.request_memory_pool().try_acquire(size, &request->lease)) {
      request->lease = co_await wait_for_request_bytes(size);
      if (closed_) co_return;
    }
    request->frame = take_frame(static_cast<size_t>(size));
    co_await read_exact(request->frame.bytes.get(), request->frame.size);
    request->received_ns = monotonic_ns();
    request->ctx.request_bytes = size;
    RequestMetrics::add(metrics_->bytes_received, 4 + request->frame.size);

    protocol::Reader reader(request->frame.span());
    RequestContext& ctx = request->ctx;
    ctx.api_key = reader.i16();
    ctx.api_version = reader.i16();
    ctx.correlation_id = reader.i32();
    ctx.peer = peer_;
    ctx.session = &session_;
    ctx.fetch_partitions = &fetch_partitions_;
    ctx.fetch_sessions = &fetch_sessions_;
    ctx.listener = session_.listener;
    request->metrics = metrics_->api(ctx.api_key);
    if (request->metrics && ctx.api_version >= 0 && ctx.api_version <= RequestMetrics::kMaxVersion)
      RequestMetrics::add(request->metrics->requests[static_cast<size_t>(ctx.api_version)]);
    const HandlerEntry* handler = find_handler(ctx.api_key);
    if (!handler) {
      if (request->metrics) RequestMetrics::add(request->metrics->failed);
      spdlog::warn("{}: closing connection: unknown api key {}", peer_, ctx.api_key);
      co_return;
    }
    if (!session_.authenticated && ctx.api_key != kApiVersionsKey && ctx.api_key != kSaslHandshakeKey &&
        ctx.api_key != kSaslAuthenticateKey) {
      spdlog::warn("{}: closing connection: api key {} before SASL authentication on listener {}", peer_, ctx.api_key,
                   session_.listener);
      co_return;
    }
    if (session_.expires_at_ms > 0 && ctx.api_key != kSaslHandshakeKey && ctx.api_key != kSaslAuthenticateKey &&
        now_ms() >= session_.expires_at_ms) {
      spdlog::info(
          "{}: closing connection: its SASL session ended (connections.max.reauth.ms) without "
          "re-authentication",
          peer_);
      co_return;
    }
    if (ctx.api_version < handler->min_version || ctx.api_version > handler->max_version) {
      if (ctx.api_key != kApiVersionsKey) {
        RequestMetrics::add(request->metrics->failed);
        spdlog::warn("{}: closing connection: {} v{} is not supported", peer_, ctx.api_key, ctx.api_version);
        co_return;
      }
      // KIP-511: answer in the v0 layout with UNSUPPORTED_VERSION and the
      // supported ranges, so the client can retry with a version we know.
      request->response = unsupported_api_versions_response();
      request->started_ns = request->finished_ns = request->received_ns;
      request->ordered = request->done = true;
      in_flight_.push_back(request);
      in_flight_bytes_ += request->frame.size;
      wake(writer_wake_);
      continue;
    }
    bool flexible = ctx.api_version >= handler->flexible_from;
    ctx.client_id = reader.nullable_string();
    if (flexible) reader.skip_tagged_fields();
    request->body_offset = reader.position();
    request->handler = handler;
    // ApiVersions responses always use header v0, so that a client that does
    // not know our flexible versions can still read them (KIP-511).
    request->flexible_header = flexible && ctx.api_key != kApiVersionsKey;
    in_flight_.push_back(request);
    in_flight_bytes_ += request->frame.size;
    auto self = shared_from_this();
    asio::co_spawn(
        shard_->executor(), [self, request] { return self->handle(*request); }, asio::detached);
  }
}

asio::awaitable<void> Connection::wait_out_throttle() {
  // In steps, so that a connection closed meanwhile (idle reaping, shutdown)
  // does not wait out a long throttle.
  asio::steady_timer timer(shard_->io());
  for (int64_t now = monotonic_ns(); !closed_ && now < throttled_until_ns_; now = monotonic_ns()) {
    timer.expires_after(std::chrono::nanoseconds(std::min<int64_t>(throttled_until_ns_ - now, kThrottleStepNs)));
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  throttled_until_ns_ = 0;
}

asio::awaitable<RequestMemoryPool::Lease> Connection::wait_for_request_bytes(int32_t size) {
  // The pool is exhausted: the request stays in the socket (Kafka mutes the
  // channel) until other requests are answered. Those may be on any shard,
  // so this polls rather than waits for a wake-up; it only happens under
  // the limit.
  RequestMemoryPool& pool = broker_.request_memory_pool();
  RequestMemoryPool::Lease lease;
  pool.note_wait();
  asio::steady_timer timer(shard_->io());
  auto pause = kPoolRetryMin;
  while (!closed_ && !pool.try_acquire(size, &lease)) {
    timer.expires_after(pause);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    pause = std::min(pause * 2, kPoolRetryMax);
  }
  co_return lease;
}

asio::awaitable<void> Connection::handle(InFlight& request) {
  request.ctx.ordered = [this, &request] {
    request.ordered_ns = monotonic_ns();
    request.ordered = true;
    wake(reader_wake_);
  };
  request.started_ns = monotonic_ns();
  try {
    protocol::Reader reader(request.frame.span().subspan(request.body_offset));
    auto response = co_await request.handler->fn(request.ctx, reader);
    request.response = std::move(response);
  } catch (const std::exception& e) {
    log_error(e);
    request.close_after = true;
    RequestMetrics::add(request.metrics->failed);
  }
  request.finished_ns = monotonic_ns();
  request.metrics->queue.observe_ns(request.started_ns - request.received_ns);
  request.metrics->handle.observe_ns(request.finished_ns - request.started_ns);
  if (request.ctx.api_key == kProduceKey && request.ordered_ns) {
    metrics_->produce_append.observe_ns(request.ordered_ns - request.started_ns);
    metrics_->produce_wait.observe_ns(request.finished_ns - request.ordered_ns);
  }
  if (request.ctx.api_key == kProduceKey) note_produce_shard(request.ctx.partitions_shard);
  if (request.ctx.throttle_ms > 0)
    throttled_until_ns_ =
        std::max(throttled_until_ns_, request.finished_ns + int64_t{request.ctx.throttle_ms} * 1'000'000);
  request.ctx.ordered = nullptr;
  if (session_.close_after_response) request.close_after_write = true;
  request.ordered = request.done = true;
  wake(reader_wake_);
  wake(writer_wake_);
}

asio::awaitable<void> Connection::handle_raw_token(InFlight& request) {
  try {
    std::span<const uint8_t> token = request.frame.span();
    auto result = co_await sasl_exchange_step(request.ctx, token);
    if (result.error == ErrorCode::NONE) {
      protocol::Writer writer;
      writer.raw(result.bytes);
      request.response = std::move(writer).finish();
    }
    // A failure has no answer in this framing: Kafka just closes.
  } catch (const std::exception& e) {
    log_error(e);
    request.close_after = true;
  }
  if (session_.close_after_response) request.close_after_write = true;
  request.ordered = request.done = true;
  wake(reader_wake_);
  wake(writer_wake_);
}

asio::awaitable<void> Connection::write_loop() {
  try {
    for (;;) {
      if (closed_) break;
      if (in_flight_.empty()) {
        if (reader_done_) break;
        co_await wait_for_wake(writer_wake_);
        continue;
      }
      if (!in_flight_.front()->done) {
        co_await wait_for_wake(writer_wake_);
        continue;
      }
      // Every answer that is ready, in order, goes out in one write.
      std::vector<std::shared_ptr<InFlight>> batch;
      bool close_after = false;
      for (const auto& request : in_flight_) {
        if (!request->done || batch.size() == kMaxResponsesPerWrite) break;
        if (request->close_after) {
          close_after = true;
          break;
        }
        batch.push_back(request);
        if (request->close_after_write) {
          close_after = true;
          break;
        }
      }
      if (!batch.empty()) co_await write_responses(batch);
      int64_t sent_ns = monotonic_ns();
      last_activity_ns_ = sent_ns;
      for (auto& request : batch) {
        if (request->metrics) request->metrics->send.observe_ns(sent_ns - request->finished_ns);
        in_flight_.pop_front();
        in_flight_bytes_ -= request->frame.size;
        recycle(std::move(request->frame));
      }
      wake(reader_wake_);
      if (close_after) break;
    }
  } catch (const std::exception& e) {
    log_error(e);
    moving_ = false;
  }
  writer_done_ = true;
  if (!moving_) {  // a moving connection's socket goes to its next shard
    std::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  wake(reader_wake_);
}

void Connection::note_produce_shard(Shard* owner) {
  if (!movable_ || move_to_) return;
  if (!owner || owner == shard_) {
    produce_streak_ = 0;
    return;
  }
  if (owner != streak_shard_) {
    streak_shard_ = owner;
    produce_streak_ = 0;
  }
  if (++produce_streak_ >= move_streak_) {
    move_to_ = owner;
    move_streak_ = std::min(2 * move_streak_, kMaxMoveStreak);
    wake(reader_wake_);  // a reader waiting for this request to be answered
  }
}

int Connection::detach_socket(Shard& target) {
  std::error_code ec;
  auto local = socket_.local_endpoint(ec);
  int fd = -1;
  if (!ec) {
    protocol_ = local.protocol();
    fd = socket_.release(ec);  // deregistered from this shard's reactor, not closed
  }
  if (ec || fd < 0) {
    socket_.close(ec);
    return -1;
  }
  // Idle (both loops have ended): rebound here, on the thread that owns them.
  reader_wake_ = asio::steady_timer(target.io());
  writer_wake_ = asio::steady_timer(target.io());
  return fd;
}

bool Connection::attach(Shard& target, int fd) {
  asio::ip::tcp::socket socket(target.io());
  std::error_code ec;
  socket.assign(protocol_, fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("{}: cannot move the connection to shard {}: {}", peer_, target.id(), ec.message());
    return false;
  }
  socket_ = std::move(socket);
  metrics_->connections_open.fetch_sub(1, std::memory_order_relaxed);
  shard_ = &target;
  metrics_ = &broker_.request_metrics(target.id());
  metrics_->connections_open.fetch_add(1, std::memory_order_relaxed);
  RequestMetrics::add(metrics_->connections_moved);
  reader_done_ = writer_done_ = moving_ = false;
  move_to_ = streak_shard_ = nullptr;
  produce_streak_ = 0;
  return true;
}

void Connection::Frame::resize(size_t n) {
  if (n > capacity) {
    bytes.reset(new uint8_t[n]);  // default-initialised: not zero-filled
    capacity = n;
  }
  size = n;
}

Connection::Frame Connection::take_frame(size_t size) {
  Frame frame;
  if (!spare_frames_.empty()) {
    frame = std::move(spare_frames_.back());
    spare_frames_.pop_back();
  }
  frame.resize(size);
  return frame;
}

void Connection::recycle(Frame frame) {
  if (frame.capacity <= kMaxSpareFrameBytes && spare_frames_.size() < kMaxSpareFrames)
    spare_frames_.push_back(std::move(frame));
  else
    MemoryTrimmer::note_request_bytes_freed(frame.capacity);  // freed as `frame` goes
}

void Connection::log_unanswered(int64_t now_ns, int64_t threshold_ns) {
  for (const auto& request : in_flight_) {
    if (request->done || request->logged_unanswered || now_ns - request->received_ns < threshold_ns) continue;
    request->logged_unanswered = true;
    const auto& ctx = request->ctx;
    spdlog::log(ctx.api_key == kJoinGroupKey ? spdlog::level::info : spdlog::level::warn,
                "{}: {} v{} (correlation id {}, client id {}) not answered after {} s{}", peer_,
                protocol::api_name(ctx.api_key), ctx.api_version, ctx.correlation_id, ctx.client_id.value_or(""),
                (now_ns - request->received_ns) / 1'000'000'000,
                request->started_ns ? "" : ", behind an earlier request of its connection");
  }
}

void Connection::close() {
  closed_ = true;
  std::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake(reader_wake_);
  wake(writer_wake_);
}

asio::awaitable<void> Connection::read_exact(uint8_t* dst, size_t n) {
  while (n > 0) {
    if (read_begin_ == read_end_) {
      if (n >= kReadBufferSize) {  // large: straight into its place
        if (tls_)
          co_await tls_->read(asio::buffer(dst, n));
        else
          co_await asio::async_read(socket_, asio::buffer(dst, n), asio::use_awaitable);
        co_return;
      }
      if (!read_buffer_) read_buffer_.reset(new uint8_t[kReadBufferSize]);
      read_begin_ = 0;
      read_end_ = 0;
      read_end_ = co_await read_some(asio::buffer(read_buffer_.get(), kReadBufferSize));
      continue;
    }
    size_t k = std::min(n, read_end_ - read_begin_);
    std::memcpy(dst, read_buffer_.get() + read_begin_, k);
    read_begin_ += k;
    dst += k;
    n -= k;
  }
}

asio::awaitable<size_t> Connection::read_some(asio::mutable_buffer buffer) {
  if (tls_) co_return co_await tls_->read_some(buffer);
  co_return co_await socket_.async_read_some(buffer, asio::use_awaitable);
}

asio::awaitable<void> Connection::write_all(const std::vector<asio::const_buffer>& buffers) {
  co_await asio::async_write(socket_, buffers, asio::use_awaitable);
}

asio::awaitable<void> Connection::write_responses(const std::vector<std::shared_ptr<InFlight>>& batch) {
  if (tls_) {
    co_await write_responses_tls(batch);
    co_return;
  }
  constexpr size_t kHeaderSize = 9;
  std::vector<uint8_t> headers(batch.size() * kHeaderSize);
  std::vector<asio::const_buffer> buffers;
  for (size_t i = 0; i < batch.size(); ++i) {
    const InFlight& request = *batch[i];
    if (!request.response) continue;  // acks=0: no answer
    const protocol::OutputFrame& body = *request.response;
    uint8_t* header = headers.data() + i * kHeaderSize;
    size_t header_size = request.raw ? 4 : request.flexible_header ? 9 : 8;
    uint64_t total = header_size - 4 + body.total_size();
    RequestMetrics::add(metrics_->bytes_sent, 4 + total);
    store_be32(header, static_cast<uint32_t>(total));
    store_be32(header + 4, static_cast<uint32_t>(request.ctx.correlation_id));
    header[8] = 0;  // empty tagged fields of response header v1
    buffers.emplace_back(header, header_size);
    for (const auto& piece : body.pieces) {
      if (!piece.file) {
        if (piece.mem_end > piece.mem_begin)
          buffers.emplace_back(body.buffer.data() + piece.mem_begin, piece.mem_end - piece.mem_begin);
        continue;
      }
      if (!buffers.empty()) co_await write_all(buffers);
      buffers.clear();
      co_await send_file(*piece.file);
    }
  }
  if (!buffers.empty()) co_await write_all(buffers);
}

asio::awaitable<void> Connection::write_responses_tls(const std::vector<std::shared_ptr<InFlight>>& batch) {
  if (!tls_out_) tls_out_.reset(new uint8_t[kTlsWriteBytes]);  // not zero-filled
  tls_out_size_ = 0;
  for (const auto& request : batch) {
    if (!request->response) continue;  // acks=0: no answer
    const protocol::OutputFrame& body = *request->response;
    uint8_t header[9];
    size_t header_size = request->raw ? 4 : request->flexible_header ? 9 : 8;
    uint64_t total = header_size - 4 + body.total_size();
    RequestMetrics::add(metrics_->bytes_sent, 4 + total);
    store_be32(header, static_cast<uint32_t>(total));
    store_be32(header + 4, static_cast<uint32_t>(request->ctx.correlation_id));
    header[8] = 0;  // empty tagged fields of response header v1
    co_await tls_append(header, header_size);
    for (const auto& piece : body.pieces) {
      if (piece.file)
        co_await tls_append_file(*piece.file);
      else if (piece.mem_end > piece.mem_begin)
        co_await tls_append(body.buffer.data() + piece.mem_begin, piece.mem_end - piece.mem_begin);
    }
  }
  co_await tls_flush();
}

asio::awaitable<void> Connection::tls_append(const uint8_t* data, size_t size) {
  if (size > kTlsWriteBytes - tls_out_size_) {
    co_await tls_flush();
    if (size >= kTlsWriteBytes) {  // large: encrypted from where it is
      co_await tls_->write(asio::buffer(data, size));
      co_return;
    }
  }
  std::memcpy(tls_out_.get() + tls_out_size_, data, size);
  tls_out_size_ += size;
}

asio::awaitable<void> Connection::tls_append_file(const FileSlice& slice) {
  if (tls_->ktls_send()) {  // the kernel encrypts: no copy through user space
    co_await tls_flush();
    co_await tls_->send_file(slice.file->fd(), slice.position, slice.length);
    co_return;
  }
  uint64_t position = slice.position;
  size_t left = slice.length;
  while (left > 0) {
    if (tls_out_size_ == kTlsWriteBytes) co_await tls_flush();
    size_t want = std::min(left, kTlsWriteBytes - tls_out_size_);
    ssize_t n = ::pread(slice.file->fd(), tls_out_.get() + tls_out_size_, want, static_cast<off_t>(position));
    if (n < 0 && errno == EINTR) continue;
    // n == 0: the file is shorter than the slice (truncated under us), as in send_file.
    if (n <= 0) throw std::system_error(n == 0 ? EIO : errno, std::system_category(), "pread");
    tls_out_size_ += static_cast<size_t>(n);
    position += static_cast<uint64_t>(n);
    left -= static_cast<size_t>(n);
  }
}

asio::awaitable<void> Connection::tls_flush() {
  if (tls_out_size_ == 0) co_return;
  size_t size = tls_out_size_;
  tls_out_size_ = 0;
  co_await tls_->write(asio::buffer(tls_out_.get(), size));
}

asio::awaitable<void> Connection::send_file(const FileSlice& slice) {
  // Zero-copy: the kernel moves the batch bytes from the page cache to the socket.
  socket_.native_non_blocking(true);
  off_t offset = static_cast<off_t>(slice.position);
  size_t left = slice.length;
  while (left > 0) {
    ssize_t n = ::sendfile(socket_.native_handle(), slice.file->fd(), &offset, left);
    if (n > 0) {
      left -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, asio::use_awaitable);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // n == 0: the file is shorter than the slice (truncated under us); the
    // frame can no longer be completed, so the connection must go.
    throw std::system_error(n == 0 ? EIO : errno, std::system_category(), "sendfile");
  }
}

}  // namespace runnel
