#include "server/connection.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include "base/endian.h"
#include "kafka/broker.h"
#include "kafka/handler.h"
#include "kafka/handlers/api_versions.h"

namespace runnel {
namespace {
constexpr int16_t kApiVersionsKey = 18;
constexpr size_t kMinRequestSize = 8;  // api key, version, correlation id
}  // namespace

Connection::Connection(Broker& broker, Shard& shard, asio::ip::tcp::socket socket)
    : broker_(broker), shard_(shard), socket_(std::move(socket)) {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

asio::awaitable<void> Connection::run() {
  try {
    for (;;) {
      uint8_t size_bytes[4];
      co_await asio::async_read(socket_, asio::buffer(size_bytes), asio::use_awaitable);
      int32_t size = static_cast<int32_t>(load_be32(size_bytes));
      if (size < static_cast<int32_t>(kMinRequestSize) || size > broker_.config().socket_request_max_bytes) {
        spdlog::warn("{}: closing connection: request size {} outside [{}, {}] (socket.request.max.bytes)", peer_,
                     size, kMinRequestSize, broker_.config().socket_request_max_bytes);
        break;
      }
      frame_.resize(static_cast<size_t>(size));
      co_await asio::async_read(socket_, asio::buffer(frame_), asio::use_awaitable);

      protocol::Reader reader(frame_);
      RequestContext ctx{broker_, shard_};
      ctx.api_key = reader.i16();
      ctx.api_version = reader.i16();
      ctx.correlation_id = reader.i32();
      ctx.peer = peer_;
      const HandlerEntry* handler = find_handler(ctx.api_key);
      if (!handler) {
        spdlog::warn("{}: closing connection: unknown api key {}", peer_, ctx.api_key);
        break;
      }
      if (ctx.api_version < handler->min_version || ctx.api_version > handler->max_version) {
        if (ctx.api_key == kApiVersionsKey) {
          // KIP-511: answer in the v0 layout with UNSUPPORTED_VERSION and the
          // supported ranges, so the client can retry with a version we know.
          auto refusal = unsupported_api_versions_response();  // named: see on_shard() on GCC 12
          co_await write_response(ctx.correlation_id, false, refusal);
          continue;
        }
        spdlog::warn("{}: closing connection: {} v{} is not supported", peer_, ctx.api_key, ctx.api_version);
        break;
      }
      bool flexible = ctx.api_version >= handler->flexible_from;
      ctx.client_id = reader.nullable_string();
      if (flexible) reader.skip_tagged_fields();
      auto response = co_await handler->fn(ctx, reader);
      // ApiVersions responses always use header v0, so that a client that does
      // not know our flexible versions can still read them (KIP-511).
      if (response) co_await write_response(ctx.correlation_id, flexible && ctx.api_key != kApiVersionsKey, *response);
    }
  } catch (const protocol::DecodeError& e) {
    spdlog::warn("{}: closing connection: malformed request: {}", peer_, e.what());
  } catch (const std::system_error& e) {
    if (e.code() != asio::error::eof && e.code() != asio::error::connection_reset &&
        e.code() != asio::error::operation_aborted && e.code() != asio::error::broken_pipe)
      spdlog::warn("{}: connection error: {}", peer_, e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: closing connection after an internal error: {}", peer_, e.what());
  }
  std::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

asio::awaitable<void> Connection::write_response(int32_t correlation_id, bool flexible_header,
                                                 const protocol::OutputFrame& body) {
  uint8_t header[9];
  size_t header_size = flexible_header ? 9 : 8;
  uint64_t total = header_size - 4 + body.total_size();
  store_be32(header, static_cast<uint32_t>(total));
  store_be32(header + 4, static_cast<uint32_t>(correlation_id));
  header[8] = 0;  // empty tagged fields of response header v1

  std::vector<asio::const_buffer> buffers;
  buffers.emplace_back(header, header_size);
  for (const auto& piece : body.pieces) {
    if (!piece.file) {
      if (piece.mem_end > piece.mem_begin)
        buffers.emplace_back(body.buffer.data() + piece.mem_begin, piece.mem_end - piece.mem_begin);
      continue;
    }
    if (!buffers.empty()) co_await asio::async_write(socket_, buffers, asio::use_awaitable);
    buffers.clear();
    co_await send_file(*piece.file);
  }
  if (!buffers.empty()) co_await asio::async_write(socket_, buffers, asio::use_awaitable);
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
    throw std::system_error(n == 0 ? EIO : errno, std::generic_category(), "sendfile");
  }
}

}  // namespace runnel
