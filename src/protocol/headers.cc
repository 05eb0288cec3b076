#include "protocol/headers.h"

#include "protocol/messages.h"

namespace runnel::protocol {

void RequestHeader::read(Reader& r, int16_t header_version) {
  api_key = r.i16();
  api_version = r.i16();
  correlation_id = r.i32();
  client_id.reset();
  // The client id stays a classic (int16 length) string even in header v2, so
  // that a broker can read it before it knows whether the API is flexible.
  if (header_version >= 1) client_id = r.nullable_string();
  if (header_version >= 2) r.skip_tagged_fields();
}

void RequestHeader::write(Writer& w, int16_t header_version) const {
  w.i16(api_key);
  w.i16(api_version);
  w.i32(correlation_id);
  if (header_version >= 1) w.nullable_string(client_id);
  if (header_version >= 2) w.empty_tagged_fields();
}

void ResponseHeader::read(Reader& r, int16_t header_version) {
  correlation_id = r.i32();
  if (header_version >= 1) r.skip_tagged_fields();
}

void ResponseHeader::write(Writer& w, int16_t header_version) const {
  w.i32(correlation_id);
  if (header_version >= 1) w.empty_tagged_fields();
}

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = find_api(api_key);
  return api && api_version >= api->flexible_from ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  if (api_key == ApiVersionsResponse::kApiKey) return 0;
  const ApiInfo* api = find_api(api_key);
  return api && api_version >= api->flexible_from ? 1 : 0;
}

}  // namespace runnel::protocol
