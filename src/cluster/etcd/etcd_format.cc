#include "cluster/etcd/etcd_format.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace runnel::cluster::etcd {
namespace {

using nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Thrown inside the decoders only, turned into Status::malformed at their edge.
struct Malformed {
  std::string what;
};

// etcd writes 64-bit numbers as strings; accept plain numbers too.
int64_t number(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) throw Malformed{std::string("bad number in ") + name};
    return v;
  }
  throw Malformed{std::string("field is not a number: ") + name};
}

bool boolean(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw Malformed{std::string("field is not a boolean: ") + name};
  return it->get<bool>();
}

std::string bytes_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) throw Malformed{std::string("field is not a string: ") + name};
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) throw Malformed{std::string("field is not base64: ") + name};
  return std::move(*decoded);
}

std::string text_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

const json& object_field(const json& obj, const char* name) {
  static const json kEmpty = json::object();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return kEmpty;
  if (!it->is_object()) throw Malformed{std::string("field is not an object: ") + name};
  return *it;
}

const json& array_field(const json& obj, const char* name) {
  static const json kEmpty = json::array();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return kEmpty;
  if (!it->is_array()) throw Malformed{std::string("field is not an array: ") + name};
  return *it;
}

KeyValue key_value(const json& j) {
  if (!j.is_object()) throw Malformed{"key-value is not an object"};
  KeyValue kv;
  kv.key = bytes_field(j, "key");
  kv.value = bytes_field(j, "value");
  kv.create_revision = number(j, "create_revision");
  kv.mod_revision = number(j, "mod_revision");
  kv.version = number(j, "version");
  kv.lease = number(j, "lease");
  return kv;
}

int64_t header_revision(const json& j) { return number(object_field(j, "header"), "revision"); }

RangeResponse range_from(const json& j) {
  RangeResponse out;
  out.revision = header_revision(j);
  for (const auto& kv : array_field(j, "kvs")) out.kvs.push_back(key_value(kv));
  out.count = number(j, "count");
  return out;
}

// Parses `body` as a JSON object and runs `decode` on it, turning etcd's
// error answers and every shape mismatch into a Status.
template <typename Fn>
Status decode_object(std::string_view body, Fn&& decode) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::malformed("answer is not a JSON object");
  try {
    if (auto err = j.find("error"); err != j.end()) {
      // Unary calls: {"error":"...","message":"...","code":N}; a watch stream:
      // {"error":{"grpc_code":N,"http_code":N,"message":"...","http_status":"..."}}.
      if (err->is_object()) {
        return Status::etcd_error(static_cast<int>(number(*err, "grpc_code")), text_field(*err, "message"));
      }
      return Status::etcd_error(static_cast<int>(number(j, "code")),
                                err->is_string() ? err->get<std::string>() : text_field(j, "message"));
    }
    decode(j);
    return Status::ok();
  } catch (const Malformed& e) {
    return Status::malformed(e.what);
  } catch (const json::exception& e) {
    return Status::malformed(e.what());
  }
}

json op_json(const Op& op) {
  switch (op.kind) {
    case Op::Kind::kRange: {
      json r{{"key", base64_encode(op.key)}};
      if (!op.range_end.empty()) r["range_end"] = base64_encode(op.range_end);
      return json{{"request_range", std::move(r)}};
    }
    case Op::Kind::kPut: {
      json p{{"key", base64_encode(op.key)}, {"value", base64_encode(op.value)}};
      if (op.lease != 0) p["lease"] = std::to_string(op.lease);
      return json{{"request_put", std::move(p)}};
    }
    case Op::Kind::kDelete: {
      json d{{"key", base64_encode(op.key)}};
      if (!op.range_end.empty()) d["range_end"] = base64_encode(op.range_end);
      return json{{"request_delete_range", std::move(d)}};
    }
  }
  return json::object();
}

const char* target_name(Compare::Target t) {
  switch (t) {
    case Compare::Target::kVersion:
      return "VERSION";
    case Compare::Target::kCreate:
      return "CREATE";
    case Compare::Target::kMod:
      return "MOD";
    case Compare::Target::kValue:
      return "VALUE";
    case Compare::Target::kLease:
      return "LEASE";
  }
  return "MOD";
}

const char* result_name(Compare::Result r) {
  switch (r) {
    case Compare::Result::kEqual:
      return "EQUAL";
    case Compare::Result::kGreater:
      return "GREATER";
    case Compare::Result::kLess:
      return "LESS";
    case Compare::Result::kNotEqual:
      return "NOT_EQUAL";
  }
  return "EQUAL";
}

json compare_json(const Compare& c) {
  json j{{"key", base64_encode(c.key)}, {"target", target_name(c.target)}, {"result", result_name(c.result)}};
  switch (c.target) {
    case Compare::Target::kVersion:
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::kCreate:
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kMod:
      j["mod_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::kValue:
      j["value"] = base64_encode(c.value);
      break;
    case Compare::Target::kLease:
      j["lease"] = std::to_string(c.number);
      break;
  }
  return j;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (rest == 2) n |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      if (k >= 4 - pad) {
        n <<= 6;
        continue;
      }
      int v = base64_value(text[i + k]);
      if (v < 0) return std::nullopt;
      n = (n << 6) | uint32_t(v);
    }
    out += char((n >> 16) & 0xff);
    if (pad < 2) out += char((n >> 8) & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (uint8_t(end.back()) < 0xff) {
      end.back() = char(uint8_t(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_request(std::string_view key, std::string_view range_end, int64_t revision, bool keys_only) {
  json j{{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  if (revision > 0) j["revision"] = std::to_string(revision);
  if (keys_only) j["keys_only"] = true;
  return j.dump();
}

std::string put_request(std::string_view key, std::string_view value, int64_t lease) {
  json j{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) j["lease"] = std::to_string(lease);
  return j.dump();
}

std::string delete_request(std::string_view key, std::string_view range_end) {
  json j{{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  return j.dump();
}

std::string txn_request(const std::vector<Compare>& compares, const std::vector<Op>& success,
                        const std::vector<Op>& failure) {
  json j = json::object();
  j["compare"] = json::array();
  for (const auto& c : compares) j["compare"].push_back(compare_json(c));
  j["success"] = json::array();
  for (const auto& op : success) j["success"].push_back(op_json(op));
  j["failure"] = json::array();
  for (const auto& op : failure) j["failure"].push_back(op_json(op));
  return j.dump();
}

std::string lease_grant_request(int64_t ttl_seconds) { return json{{"TTL", std::to_string(ttl_seconds)}}.dump(); }

std::string lease_id_request(int64_t id) { return json{{"ID", std::to_string(id)}}.dump(); }

std::string compaction_request(int64_t revision) { return json{{"revision", std::to_string(revision)}}.dump(); }

std::string watch_create_request(std::string_view key, std::string_view range_end, int64_t start_revision) {
  json c{{"key", base64_encode(key)}};
  if (!range_end.empty()) c["range_end"] = base64_encode(range_end);
  if (start_revision > 0) c["start_revision"] = std::to_string(start_revision);
  c["progress_notify"] = true;
  return json{{"create_request", std::move(c)}}.dump();
}

Status decode_range(std::string_view body, RangeResponse& out) {
  return decode_object(body, [&](const json& j) { out = range_from(j); });
}

Status decode_put(std::string_view body, PutResponse& out) {
  return decode_object(body, [&](const json& j) { out.revision = header_revision(j); });
}

Status decode_delete(std::string_view body, DeleteResponse& out) {
  return decode_object(body, [&](const json& j) {
    out.revision = header_revision(j);
    out.deleted = number(j, "deleted");
  });
}

Status decode_txn(std::string_view body, TxnResponse& out) {
  return decode_object(body, [&](const json& j) {
    out = TxnResponse{};
    out.revision = header_revision(j);
    out.succeeded = boolean(j, "succeeded");
    for (const auto& r : array_field(j, "responses")) {
      if (!r.is_object()) throw Malformed{"txn response is not an object"};
      if (auto range = r.find("response_range"); range != r.end()) {
        if (!range->is_object()) throw Malformed{"response_range is not an object"};
        out.responses.push_back(range_from(*range));
      } else {
        out.responses.emplace_back();
      }
    }
  });
}

Status decode_lease_grant(std::string_view body, LeaseGrantResponse& out) {
  return decode_object(body, [&](const json& j) {
    out.id = number(j, "ID");
    out.ttl = number(j, "TTL");
    if (out.id == 0) throw Malformed{"lease grant without an ID"};
    if (auto err = text_field(j, "error"); !err.empty()) throw Malformed{err};
  });
}

Status decode_lease_keepalive(std::string_view body, LeaseKeepAliveResponse& out) {
  return decode_object(body, [&](const json& j) {
    // The gateway streams keepalive answers, so even a single one is wrapped
    // in {"result": ...}.
    const json& r = j.contains("result") ? object_field(j, "result") : j;
    out.id = number(r, "ID");
    out.ttl = number(r, "TTL");
  });
}

Status decode_lease_revoke(std::string_view body) {
  return decode_object(body, [](const json&) {});
}

Status decode_watch_message(std::string_view body, WatchMessage& out) {
  return decode_object(body, [&](const json& j) {
    out = WatchMessage{};
    const json& r = object_field(j, "result");
    out.revision = header_revision(r);
    out.watch_id = number(r, "watch_id");
    out.created = boolean(r, "created");
    out.canceled = boolean(r, "canceled");
    out.compact_revision = number(r, "compact_revision");
    out.cancel_reason = text_field(r, "cancel_reason");
    for (const auto& e : array_field(r, "events")) {
      if (!e.is_object()) throw Malformed{"watch event is not an object"};
      WatchEvent event;
      auto type = text_field(e, "type");
      if (type == "DELETE") {
        event.type = WatchEvent::Type::kDelete;
      } else if (type.empty() || type == "PUT") {
        event.type = WatchEvent::Type::kPut;
      } else {
        throw Malformed{"unknown watch event type " + type};
      }
      event.kv = key_value(object_field(e, "kv"));
      out.events.push_back(std::move(event));
    }
  });
}

void WatchStreamSplitter::feed(std::string_view bytes) {
  if (overflowed_) return;
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  if (buffer_.size() - consumed_ + bytes.size() > max_buffered_) {
    overflowed_ = true;
    buffer_.clear();
    consumed_ = 0;
    return;
  }
  buffer_.append(bytes);
}

std::optional<std::string> WatchStreamSplitter::next() {
  while (true) {
    size_t nl = buffer_.find('\n', consumed_);
    if (nl == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(consumed_, nl - consumed_);
    consumed_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) return line;
  }
}

}  // namespace runnel::cluster::etcd
