#include "kafka/handlers/api_versions.h"

#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<HandlerResult> handle_api_versions(RequestContext& ctx, protocol::Reader& reader) {
  protocol::ApiVersionsRequest request;
  request.read(reader, ctx.api_version);
  protocol::ApiVersionsResponse response;
  for (const auto& h : handlers()) {
    protocol::ApiVersionsResponse::ApiVersion v;
    v.api_key = h.api_key;
    v.min_version = h.min_version;
    v.max_version = h.max_version;
    response.api_keys.push_back(v);
  }
  protocol::Writer writer;
  response.write(writer, ctx.api_version);
  co_return std::move(writer).finish();
}

protocol::OutputFrame unsupported_api_versions_response() {
  protocol::Writer w;
  w.i16(code(ErrorCode::UNSUPPORTED_VERSION));
  auto all = handlers();
  w.array_length(static_cast<int32_t>(all.size()));
  for (const auto& h : all) {
    w.i16(h.api_key);
    w.i16(h.min_version);
    w.i16(h.max_version);
  }
  return std::move(w).finish();
}

}  // namespace runnel
