#include "app/cluster_metrics.h"

#include <httplib.h>

#include <array>
#include <future>
#include <nlohmann/json.hpp>
#include <string_view>

namespace runnel::app {

namespace {

using json = nlohmann::json;

// The metric families the console's overview and topic list show.
constexpr std::array<std::string_view, 8> kChartedFamilies = {
    "runnel_topic_bytes_in_total",          "runnel_topic_bytes_out_total", "runnel_topic_records_in_total",
    "runnel_request_handle_seconds_bucket", "runnel_connections",           "runnel_partitions_led",
    "runnel_network_received_bytes_total",  "runnel_partition_size_bytes"};

bool charted(std::string_view line) {
  for (auto family : kChartedFamilies) {
    if (line.substr(0, family.size()) != family) continue;
    if (line.size() == family.size()) return true;
    char next = line[family.size()];
    if (next == '{' || next == ' ') return true;
  }
  return false;
}

json scrape_peer(const AdminPeer& peer, bool self, const std::string& authorization,
                 const ClusterMetricsSource& source) {
  json out = {{"node_id", peer.node_id}, {"self", self}, {"controlled_shutdown", peer.in_controlled_shutdown}};
  if (self && source.local_metrics) {
    if (peer.scheme.empty())
      out["admin"] = nullptr;
    else
      out["admin"] = peer.scheme + "://" +
                     (peer.host.find(':') != std::string::npos ? "[" + peer.host + "]" : peer.host) + ":" +
                     std::to_string(peer.port);
    out["status"] = "ok";
    out["metrics"] = console_metric_lines(source.local_metrics());
    return out;
  }
  const std::string& ca_file = source.ca_file;
  if (peer.scheme.empty()) {
    out["admin"] = nullptr;
    out["status"] = "no-admin";
    out["error"] = "this broker registered no admin listener (runnel.admin.listen=off, or it did not start)";
    return out;
  }
  std::string host = peer.host.find(':') != std::string::npos ? "[" + peer.host + "]" : peer.host;
  std::string base = peer.scheme + "://" + host + ":" + std::to_string(peer.port);
  out["admin"] = base;
  try {
    httplib::Client client(base);
    if (peer.scheme == "https") {
      client.enable_server_certificate_verification(true);
      if (!ca_file.empty()) client.set_ca_cert_path(ca_file);
    }
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    client.set_write_timeout(2, 0);
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    auto res = client.Get("/metrics", headers);
    if (!res) {
      out["status"] = "unreachable";
      out["error"] = "GET " + base + "/metrics: " + httplib::to_string(res.error());
      return out;
    }
    if (res->status == 401 || res->status == 403) {
      out["status"] = "unauthorized";
      out["error"] = "GET " + base + "/metrics: HTTP " + std::to_string(res->status) +
                     " (its runnel.admin.authentication asks for credentials this request did not bring)";
      return out;
    }
    if (res->status != 200) {
      out["status"] = "error";
      out["error"] = "GET " + base + "/metrics: HTTP " + std::to_string(res->status);
      return out;
    }
    out["status"] = "ok";
    out["metrics"] = console_metric_lines(res->body);
  } catch (const std::exception& e) {
    out["status"] = "unreachable";
    out["error"] = "GET " + base + "/metrics: " + e.what();
  }
  return out;
}

}  // namespace

std::string console_metric_lines(const std::string& exposition) {
  std::string out;
  std::string_view text(exposition);
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (charted(line)) {
      out.append(line);
      out.push_back('\n');
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

void install_cluster_metrics(httplib::Server& server, std::shared_ptr<const ClusterMetricsSource> source) {
  server.Get("/v1/console/cluster/metrics", [source](const httplib::Request& req, httplib::Response& res) {
    std::vector<AdminPeer> peers = source->peers ? source->peers() : std::vector<AdminPeer>{};
    const std::string authorization = req.get_header_value("Authorization");
    std::vector<std::future<json>> answers;
    answers.reserve(peers.size());
    for (const auto& peer : peers)
      answers.push_back(std::async(std::launch::async, [&, peer] {
        return scrape_peer(peer, peer.node_id == source->self_id, authorization, *source);
      }));
    json brokers = json::array();
    for (auto& a : answers) brokers.push_back(a.get());
    res.set_content(json{{"brokers", std::move(brokers)}}.dump(), "application/json");
  });
}

}  // namespace runnel::app
