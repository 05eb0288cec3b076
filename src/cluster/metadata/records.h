#pragma once
// The values runnel keeps in etcd (DESIGN.md, "Cluster"), as JSON, with their
// decoders. Decoders read what another broker (or an operator with etcdctl)
// wrote, so they accept any JSON and answer nullopt for anything that is not
// a well-formed record; they never throw.
//
// Thread-safety: value types and pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runnel::cluster::metadata {

// brokers/<node-id>: a live broker, written under its lease. Its epoch is the
// key's create revision (a broker that restarts gets a larger one), which is
// not part of the value.
struct BrokerRecord {
  int32_t node_id = -1;
  std::string host;
  int32_t port = 0;
  std::string rack;  // broker.rack; empty when unset
  int64_t epoch = 0;

  bool operator==(const BrokerRecord&) const = default;
};

std::string encode_broker(const BrokerRecord& broker);
std::optional<BrokerRecord> decode_broker(std::string_view json);

// controller: which broker holds the controller role, written under its lease
// by the broker that won the election.
struct ControllerRecord {
  int32_t node_id = -1;
};

std::string encode_controller(const ControllerRecord& controller);
std::optional<ControllerRecord> decode_controller(std::string_view json);

}  // namespace runnel::cluster::metadata
