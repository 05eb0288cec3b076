#include "cluster/etcd/client.h"

#include <httplib.h>

#include <charconv>

namespace runnel::cluster::etcd {

namespace {
// No answer of etcd's that runnel asks for comes near this.
constexpr size_t kMaxAnswerBytes = 256u << 20;
}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  if (text.starts_with("http://")) text.remove_prefix(7);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  Endpoint e;
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = std::string(text);
    return e;
  }
  e.host = std::string(text.substr(0, colon));
  auto port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (e.host.empty() || ec != std::errc() || end != port.data() + port.size() || e.port <= 0 || e.port > 65535) {
    return std::nullopt;
  }
  return e;
}

std::vector<Endpoint> parse_endpoints(std::string_view text) {
  std::vector<Endpoint> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto e = parse_endpoint(item);
    if (!e) return {};
    out.push_back(std::move(*e));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Client::~Client() = default;

void Client::connect_current() {
  const auto& e = options_.endpoints[current_];
  http_ = std::make_unique<httplib::Client>(e.host, e.port);
  http_->set_connection_timeout(options_.connect_timeout);
  http_->set_read_timeout(options_.request_timeout);
  http_->set_write_timeout(options_.request_timeout);
  // A connection per request: the gateway closes some (the streamed lease
  // keepalive, error answers), and a request written into such a closed
  // connection would fail after it may have been sent. Loopback connects
  // cost microseconds; the control plane sends few requests.
  http_->set_keep_alive(false);
}

Status Client::post(const char* path, const std::string& body, std::string& response) {
  std::lock_guard lock(mu_);
  if (options_.endpoints.empty()) return Status::unavailable("no etcd endpoints configured");
  std::string errors;
  for (size_t attempt = 0; attempt < options_.endpoints.size(); ++attempt) {
    if (!http_) connect_current();
    // The gateway ends error answers with an HTTP trailer that cpp-httplib
    // 0.11 cannot parse (it reports a Read error after the whole body), so
    // the body is collected as it streams and used when it is complete JSON.
    int status = 0;
    std::string received;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (received.size() + n > kMaxAnswerBytes) return false;
      received.append(data, n);
      return true;
    };
    auto result = http_->send(req);
    bool trailer_only_failure = !result && result.error() == httplib::Error::Read && status >= 400 &&
                                !received.empty() && received.back() == '}';
    if (result || trailer_only_failure) {
      if (status >= 500 && received.empty()) {
        return Status::unavailable(options_.endpoints[current_].to_string() + " answered HTTP " +
                                   std::to_string(status));
      }
      if (trailer_only_failure) http_.reset();
      response = std::move(received);
      return Status::ok();
    }
    auto error = result.error();
    if (!errors.empty()) errors += "; ";
    errors += options_.endpoints[current_].to_string() + ": " + httplib::to_string(error);
    http_.reset();
    current_ = (current_ + 1) % options_.endpoints.size();
    // Only a request that never reached etcd is safe to send elsewhere.
    if (error != httplib::Error::Connection && error != httplib::Error::ConnectionTimeout) break;
  }
  return Status::unavailable(errors);
}

Status Client::range(std::string_view key, std::string_view range_end, RangeResponse& out, int64_t revision) {
  std::string body;
  if (auto s = post("/v3/kv/range", range_request(key, range_end, revision), body); !s.is_ok()) return s;
  return decode_range(body, out);
}

Status Client::put(std::string_view key, std::string_view value, int64_t lease, PutResponse* out) {
  std::string body;
  if (auto s = post("/v3/kv/put", put_request(key, value, lease), body); !s.is_ok()) return s;
  PutResponse ignored;
  return decode_put(body, out ? *out : ignored);
}

Status Client::delete_range(std::string_view key, std::string_view range_end, DeleteResponse* out) {
  std::string body;
  if (auto s = post("/v3/kv/deleterange", delete_request(key, range_end), body); !s.is_ok()) return s;
  DeleteResponse ignored;
  return decode_delete(body, out ? *out : ignored);
}

Status Client::txn(const std::vector<Compare>& compares, const std::vector<Op>& success, const std::vector<Op>& failure,
                   TxnResponse& out) {
  std::string body;
  if (auto s = post("/v3/kv/txn", txn_request(compares, success, failure), body); !s.is_ok()) return s;
  return decode_txn(body, out);
}

Status Client::lease_grant(int64_t ttl_seconds, LeaseGrantResponse& out) {
  std::string body;
  if (auto s = post("/v3/lease/grant", lease_grant_request(ttl_seconds), body); !s.is_ok()) return s;
  return decode_lease_grant(body, out);
}

Status Client::lease_keepalive(int64_t id, LeaseKeepAliveResponse& out) {
  std::string body;
  if (auto s = post("/v3/lease/keepalive", lease_id_request(id), body); !s.is_ok()) return s;
  return decode_lease_keepalive(body, out);
}

Status Client::lease_revoke(int64_t id) {
  std::string body;
  if (auto s = post("/v3/lease/revoke", lease_id_request(id), body); !s.is_ok()) return s;
  return decode_lease_revoke(body);
}

Status Client::compact(int64_t revision) {
  std::string body;
  if (auto s = post("/v3/kv/compaction", compaction_request(revision), body); !s.is_ok()) return s;
  PutResponse ignored;
  return decode_put(body, ignored);
}

}  // namespace runnel::cluster::etcd
