// libFuzzer target: decodes arbitrary bytes as a request of any generated API
// and version, then checks that re-encoding is stable (encode(decode(encode(x)))
// equals encode(x)). The first byte picks the API, the second the version.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "protocol/messages.h"

using namespace runnel::protocol;

namespace {

template <class Req>
void check(int16_t version, std::span<const uint8_t> body) {
  Req req;
  try {
    Reader r(body);
    req.read(r, version);
  } catch (const DecodeError&) {
    return;  // malformed input is expected; it must only never read out of bounds
  }
  Writer w;
  req.write(w, version);
  std::vector<uint8_t> once = std::move(w).finish().buffer;

  Req again;
  Reader r2(once);
  again.read(r2, version);  // what we wrote must decode: a throw here is a bug
  if (r2.remaining() != 0) __builtin_trap();
  Writer w2;
  again.write(w2, version);
  if (std::move(w2).finish().buffer != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  auto apis = all_apis();
  const ApiInfo& api = apis[data[0] % apis.size()];
  int16_t version = static_cast<int16_t>(api.min_version + data[1] % (api.max_version - api.min_version + 1));
  std::span<const uint8_t> body(data + 2, size - 2);
  visit_api(api.api_key, [&]<class Req, class Resp>(std::type_identity<Req>, std::type_identity<Resp>) {
    check<Req>(version, body);
    check<Resp>(version, body);  // responses are decoded by tests and tools; keep them honest too
  });
  return 0;
}
