#include "txn/txn_log_format.h"

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace runnel::txn {
namespace {

using protocol::DecodeError;
using protocol::Reader;
using protocol::Writer;

constexpr const char* kNames[] = {"Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
                                  "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence"};

}  // namespace

const char* state_name(TxnState s) {
  auto i = static_cast<int>(s);
  return i >= 0 && i < 8 ? kNames[i] : "Unknown";
}

std::optional<TxnState> state_from_name(const std::string& name) {
  for (int i = 0; i < 8; ++i)
    if (name == kNames[i]) return static_cast<TxnState>(i);
  return std::nullopt;
}

std::vector<uint8_t> encode_txn_key(const std::string& transactional_id) {
  Writer w;
  w.i16(0);
  w.string(transactional_id);
  return std::move(w).finish().buffer;
}

std::vector<uint8_t> encode_txn_value(const TxnLogValue& v) {
  Writer w;
  w.i16(0);
  w.i64(v.producer_id);
  w.i16(v.producer_epoch);
  w.i32(v.transaction_timeout_ms);
  w.i8(static_cast<int8_t>(v.state));
  if (v.partitions.empty()) {
    w.array_length(-1);
  } else {
    w.array_length(static_cast<int32_t>(v.partitions.size()));
    for (const auto& [topic, ids] : v.partitions) {
      w.string(topic);
      w.array_length(static_cast<int32_t>(ids.size()));
      for (int32_t p : ids) w.i32(p);
    }
  }
  w.i64(v.last_update_timestamp_ms);
  w.i64(v.start_timestamp_ms);
  return std::move(w).finish().buffer;
}

std::optional<std::string> decode_txn_key(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  if (r.i16() != 0) return std::nullopt;
  return r.string();
}

TxnLogValue decode_txn_value(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  int16_t version = r.i16();
  if (version != 0 && version != 1) throw DecodeError("unknown TransactionLogValue version");
  bool flexible = version == 1;
  TxnLogValue v;
  v.producer_id = r.i64();
  v.producer_epoch = r.i16();
  v.transaction_timeout_ms = r.i32();
  int8_t status = r.i8();
  if (status < 0 || status > 7) throw DecodeError("unknown transaction status");
  v.state = static_cast<TxnState>(status);
  int32_t topics = flexible ? r.compact_array_length() : r.array_length();
  for (int32_t t = 0; t < topics; ++t) {
    std::string topic = flexible ? r.compact_string() : r.string();
    int32_t n = flexible ? r.compact_array_length() : r.array_length();
    if (n < 0) throw DecodeError("null partition list");
    auto& ids = v.partitions[topic];
    for (int32_t i = 0; i < n; ++i) ids.insert(r.i32());
    if (flexible) r.skip_tagged_fields();
  }
  v.last_update_timestamp_ms = r.i64();
  v.start_timestamp_ms = r.i64();
  if (flexible) r.skip_tagged_fields();
  return v;
}

}  // namespace runnel::txn
