#pragma once
// ApiVersions (key 18): the version range of every API in the handler registry.
#include "kafka/handler.h"

namespace runnel {

asio::awaitable<HandlerResult> handle_api_versions(RequestContext& ctx, protocol::Reader& reader);

// The answer to an ApiVersions request of a version we do not support:
// UNSUPPORTED_VERSION in the v0 layout, with the full list of ranges.
protocol::OutputFrame unsupported_api_versions_response();

}  // namespace runnel
