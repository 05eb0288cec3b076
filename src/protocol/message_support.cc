#include "protocol/message_support.h"

namespace runnel::protocol {

Records read_records(Reader& r, bool compact) {
  int64_t length = compact ? static_cast<int64_t>(r.uvarint()) - 1 : r.i32();
  if (length == -1) return Records{};
  if (length < 0) throw DecodeError("negative records length");
  return Records::of(r.take(static_cast<size_t>(length)));
}

}  // namespace runnel::protocol
