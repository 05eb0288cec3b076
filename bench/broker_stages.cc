#include "broker_stages.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace runnel::bench {
namespace {

// The histograms worth reporting, by their series name in the exposition text; the key is
// the field name's middle part.
struct Wanted {
  const char* series;
  const char* key;
};
const Wanted kWanted[] = {
    {"runnel_produce_stage_seconds_bucket{stage=\"append\"", "produce_append"},
    {"runnel_produce_stage_seconds_bucket{stage=\"wait\"", "produce_wait"},
    {"runnel_fdatasync_seconds_bucket{", "fdatasync"},
    {"runnel_flush_queue_seconds_bucket{", "flush_queue"},
    {"runnel_request_queue_seconds_bucket{api=\"Produce\"", "produce_queue"},
    {"runnel_request_handle_seconds_bucket{api=\"Produce\"", "produce_handle"},
    {"runnel_request_send_seconds_bucket{api=\"Produce\"", "produce_send"},
    {"runnel_request_queue_seconds_bucket{api=\"Fetch\"", "fetch_queue"},
    {"runnel_request_handle_seconds_bucket{api=\"Fetch\"", "fetch_handle"},
    {"runnel_request_send_seconds_bucket{api=\"Fetch\"", "fetch_send"},
};

std::string http_get(const std::string& address, const std::string& path) {
  int fd = connect_tcp(address, true);
  if (fd < 0) return {};
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
  write_all(fd, req.data(), req.size());
  std::string body;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    body.append(buf, size_t(n));
  }
  ::close(fd);
  auto end = body.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : body.substr(end + 4);
}

}  // namespace

BrokerStages::BrokerStages(const Options& o) : address_(o.broker_metrics) {
  if (!address_.empty()) before_ = scrape();
}

std::map<std::string, BrokerStages::Buckets> BrokerStages::scrape() const {
  std::map<std::string, Buckets> out;
  std::istringstream text(http_get(address_, "/metrics"));
  for (std::string line; std::getline(text, line);) {
    for (const auto& w : kWanted) {
      if (line.rfind(w.series, 0) != 0) continue;
      auto le = line.find("le=\"");
      auto close = line.find("\"}", le);
      if (le == std::string::npos || close == std::string::npos) continue;
      std::string bound = line.substr(le + 4, close - le - 4);
      double b = bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(bound);
      out[w.key][b] = std::stod(line.substr(close + 3));
    }
  }
  return out;
}

void BrokerStages::add_to(Result& r) {
  if (address_.empty()) return;
  auto after = scrape();
  if (after.empty()) {
    r.str("broker_metrics_error", "no runnel histograms at http://" + address_ + "/metrics");
    return;
  }
  for (const auto& w : kWanted) {
    auto a = after.find(w.key);
    if (a == after.end()) continue;
    Buckets delta;
    for (auto [bound, count] : a->second) {
      double was = 0;
      if (auto b = before_.find(w.key); b != before_.end())
        if (auto it = b->second.find(bound); it != b->second.end()) was = it->second;
      delta[bound] = count - was;
    }
    double n = delta.empty() ? 0 : delta.rbegin()->second;
    if (n <= 0) continue;
    auto quantile = [&](double q) {
      for (auto [bound, count] : delta)
        if (count >= q * n) return bound;
      return std::numeric_limits<double>::infinity();
    };
    r.num(fmt::format("broker_{}_count", w.key), n);
    for (auto [q, name] : {std::pair{0.5, "p50"}, std::pair{0.99, "p99"}, std::pair{0.999, "p999"}}) {
      double v = quantile(q);
      if (std::isinf(v))
        r.str(fmt::format("broker_{}_{}_ms_le", w.key, name), "+Inf");
      else
        r.num(fmt::format("broker_{}_{}_ms_le", w.key, name), v * 1e3);
    }
  }
}

}  // namespace runnel::bench
