#pragma once
// The console's view of the whole cluster's metrics: GET
// /v1/console/cluster/metrics reads /metrics from the admin listener of every
// live broker (the address each registers in etcd, cluster/metadata/records.h
// BrokerRecord::admin), server-side, so that the browser talks to one origin
// whatever the other admin listeners require. Each broker answers in
// parallel within a short deadline (connect 1 s, read 2 s); one that does
// not is listed as unreachable, with why, rather than holding the page.
//
// How this broker authenticates to a peer's admin listener: it forwards the
// `Authorization` header of the request it serves, so the peer checks the
// same HTTP Basic user (SASL users are the cluster's: the same SCRAM
// credentials in etcd on every broker) and nothing is kept. A peer that asks
// for credentials this request did not bring is listed as "unauthorized".
// An https:// peer's certificate is verified (its name or IP too) against
// this broker's ssl.truststore.location when that is a PEM file, else
// against the system's CAs.
//
// Answer: {"brokers": [{"node_id", "admin": "SCHEME://HOST:PORT" | null,
// "self": bool, "controlled_shutdown": bool (it is handing over its
// leaderships before it stops), "status": "ok" | "unreachable" | "unauthorized" | "error" |
// "no-admin", "error"?: "...", "metrics"?: "<the families the console
// charts and the topic list sums, in Prometheus' text format>"}]}; an empty list on a single node
// (the console then reads this broker's /metrics itself).
//
// Thread-safety: the route runs on the HTTP server's threads; the source's
// functions must be callable from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace runnel::app {

struct AdminPeer {
  int32_t node_id = -1;
  std::string scheme;  // empty: the broker registered no admin listener
  std::string host;
  int32_t port = 0;
  bool in_controlled_shutdown = false;
};

struct ClusterMetricsSource {
  int32_t self_id = -1;
  // The live brokers' admin listeners (Broker::admin_endpoints).
  std::function<std::vector<AdminPeer>()> peers;
  // A PEM CA bundle for https peers (empty: the system's CAs).
  std::string ca_file;
  // This broker's own /metrics, rendered in process (no HTTP round trip
  // through its own, small, thread pool).
  std::function<std::string()> local_metrics;
};

// Lines of a Prometheus text exposition whose metric is one the console
// shows (bytes and records in and out, request latency histograms,
// connections, partitions led, partition sizes); exposed for the unit test.
std::string console_metric_lines(const std::string& exposition);

void install_cluster_metrics(httplib::Server& server, std::shared_ptr<const ClusterMetricsSource> source);

}  // namespace runnel::app
