// A REST proxy produce body arrives from the network: whatever the bytes and
// the Content-Type, parse_produce_body() returns records or throws, never
// crashes or hangs. Input: the first byte picks the embedded format, the
// rest is the body.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "app/rest_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using runnel::app::EmbeddedFormat;
  const EmbeddedFormat format = data[0] & 1 ? EmbeddedFormat::Binary : EmbeddedFormat::Json;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  (void)runnel::app::embedded_format(body);
  try {
    auto records = runnel::app::parse_produce_body(body, format);
    for (const auto& r : records) (void)r.value;
  } catch (const std::exception&) {
  }
  return 0;
}
