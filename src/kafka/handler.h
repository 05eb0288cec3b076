#pragma once
// The one registry of Kafka API handlers. Each handler declares its API and the
// version range it implements once; that list drives request dispatch, the
// ApiVersions answer and the fuzz targets (Redpanda's request_types idea).
//
// A handler is a coroutine that decodes its request, does the work and returns
// the encoded response body, or nothing when no response is due (Produce with
// acks=0). Thread-safety: the registry is immutable.
#include <asio.hpp>
#include <cstdint>
#include <optional>
#include <span>

#include "kafka/request_context.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel {

using HandlerResult = std::optional<protocol::OutputFrame>;
using HandlerFn = asio::awaitable<HandlerResult> (*)(RequestContext&, protocol::Reader&);

struct HandlerEntry {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
  int16_t flexible_from;  // first version with a flexible (v2) request header
  HandlerFn fn;
};

// Every handler in the registry.
std::span<const HandlerEntry> handlers();
const HandlerEntry* find_handler(int16_t api_key);

// Glue for the common case: decode Req, call fn(ctx, req) -> awaitable<Resp>,
// encode Resp at the request's version.
template <class Req, class Resp, asio::awaitable<Resp> (*Fn)(RequestContext&, Req&)>
asio::awaitable<HandlerResult> typed_handler(RequestContext& ctx, protocol::Reader& reader) {
  Req request;
  request.read(reader, ctx.api_version);
  Resp response = co_await Fn(ctx, request);
  protocol::Writer writer;
  response.write(writer, ctx.api_version);
  co_return std::move(writer).finish();
}

template <class Req, class Resp, asio::awaitable<Resp> (*Fn)(RequestContext&, Req&)>
constexpr HandlerEntry make_handler(int16_t min_version, int16_t max_version) {
  return HandlerEntry{Req::kApiKey, min_version, max_version, Req::kFlexibleFrom, &typed_handler<Req, Resp, Fn>};
}

}  // namespace runnel
