#include "app/reassign_command.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "app/admin_client.h"
#include "app/reassign_throttle.h"
#include "app/table.h"
#include "base/error_code.h"
#include "cluster/controller/replica_assignment.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

// A replica that kafka-reassign-partitions.sh's log_dirs name a directory
// for (not "any"): moved there (its AlterReplicaLogDirs error, pending
// while REPLICA_NOT_AVAILABLE) or verified (its --verify status).
struct LogDirMove {
  std::string topic;
  int32_t partition = 0;
  int32_t broker = 0;
  std::string dir;
  int16_t error = static_cast<int16_t>(ErrorCode::REPLICA_NOT_AVAILABLE);
  std::string status = "missing";
};

std::vector<LogDirMove> log_dir_moves(const std::vector<ReassignmentSpec>& specs) {
  std::vector<LogDirMove> moves;
  for (const auto& spec : specs)
    for (size_t i = 0; i < spec.log_dirs.size() && i < spec.replicas.size(); ++i)
      if (spec.log_dirs[i] != "any") moves.push_back({spec.topic, spec.partition, spec.replicas[i], spec.log_dirs[i]});
  return moves;
}

// Each of `moves` (log_dir_moves()) is made by its broker, found in
// `addresses` (AlterReplicaLogDirs), asked again while that broker does not
// hold the replica yet (REPLICA_NOT_AVAILABLE: one being added), for up to
// `timeout`, as the tool does; each move's error is its final one.
void move_log_dirs(const std::map<int32_t, std::string>& addresses, std::vector<LogDirMove>& moves,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto pending = [](const LogDirMove& m) {
    return m.error == static_cast<int16_t>(ErrorCode::REPLICA_NOT_AVAILABLE);
  };
  while (true) {
    std::map<int32_t, protocol::AlterReplicaLogDirsRequest> by_broker;
    for (const auto& m : moves) {
      if (!pending(m)) continue;
      auto& req = by_broker[m.broker];
      auto dir = std::find_if(req.dirs.begin(), req.dirs.end(), [&](const auto& d) { return d.path == m.dir; });
      if (dir == req.dirs.end()) (dir = req.dirs.emplace(req.dirs.end()))->path = m.dir;
      auto topic =
          std::find_if(dir->topics.begin(), dir->topics.end(), [&](const auto& t) { return t.name == m.topic; });
      if (topic == dir->topics.end()) (topic = dir->topics.emplace(dir->topics.end()))->name = m.topic;
      topic->partitions.push_back(m.partition);
    }
    for (const auto& [broker, req] : by_broker) {
      auto address = addresses.find(broker);
      if (address == addresses.end()) {
        for (auto& m : moves)
          if (m.broker == broker && pending(m)) m.error = static_cast<int16_t>(ErrorCode::BROKER_NOT_AVAILABLE);
        continue;
      }
      AdminClient to(address->second);
      auto resp = to.call<protocol::AlterReplicaLogDirsResponse>(req, 1);
      for (const auto& t : resp.results)
        for (const auto& p : t.partitions)
          for (auto& m : moves)
            if (m.broker == broker && m.topic == t.topic_name && m.partition == p.partition_index && pending(m))
              m.error = p.error_code;
    }
    if (std::none_of(moves.begin(), moves.end(), pending) || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// --verify of a plan's log_dirs, as kafka-reassign-partitions.sh reports
// them: each replica of log_dir_moves(specs) is "complete" once its broker
// holds it there and copies it nowhere, "in progress" while its copy to
// that directory runs, "not moving" when it is elsewhere and no move runs,
// "missing" when its broker does not list it (a replica not there yet, or
// an offline directory).
std::vector<LogDirMove> verify_log_dirs(const protocol::MetadataResponse& metadata,
                                        const std::vector<ReassignmentSpec>& specs) {
  auto moves = log_dir_moves(specs);
  std::set<int32_t> brokers;
  for (const auto& m : moves) brokers.insert(m.broker);
  const auto addresses = broker_addresses(metadata);
  for (int32_t broker : brokers) {
    auto address = addresses.find(broker);
    if (address == addresses.end()) continue;
    protocol::DescribeLogDirsRequest req;
    req.topics = std::vector<protocol::DescribeLogDirsRequest::DescribableLogDirTopic>{};
    for (const auto& m : moves)
      if (m.broker == broker) req.topics->push_back({m.topic, {m.partition}});
    AdminClient to(address->second);
    auto resp = to.call<protocol::DescribeLogDirsResponse>(req, 4);
    // (topic, partition) -> its directory, and its future one.
    std::map<std::pair<std::string, int32_t>, std::pair<std::string, std::string>> where;
    for (const auto& dir : resp.results)
      for (const auto& t : dir.topics)
        for (const auto& p : t.partitions)
          (p.is_future_key ? where[{t.name, p.partition_index}].second : where[{t.name, p.partition_index}].first) =
              dir.log_dir;
    for (auto& m : moves) {
      if (m.broker != broker) continue;
      auto it = where.find({m.topic, m.partition});
      if (it == where.end() || it->second.first.empty()) continue;
      const auto& [current, future] = it->second;
      m.status = !future.empty()    ? (future == m.dir ? "in progress" : "moving to " + future)
                 : current == m.dir ? "complete"
                                    : "not moving (in " + current + ")";
    }
  }
  return moves;
}

}  // namespace

int cluster_reassign_generate(const std::string& bootstrap, const std::vector<std::string>& topics,
                              const std::vector<int32_t>& brokers, bool ignore_racks, bool json, std::ostream& out,
                              std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    auto meta = client.metadata(topics, 9);
    std::vector<cluster::controller::BrokerSlot> slots;
    for (int32_t id : brokers) {
      auto b = std::find_if(meta.brokers.begin(), meta.brokers.end(), [id](const auto& b) { return b.node_id == id; });
      if (b == meta.brokers.end()) {
        err << "Error: broker " << id << " is not registered\n";
        return 1;
      }
      slots.push_back({id, ignore_racks ? "" : b->rack.value_or("")});
    }
    auto plan = [] { return nlohmann::json{{"version", 1}, {"partitions", nlohmann::json::array()}}; };
    nlohmann::json current = plan(), proposed = plan();
    auto entry = [](const std::string& topic, int32_t partition, const std::vector<int32_t>& replicas) {
      return nlohmann::json{{"topic", topic},
                            {"partition", partition},
                            {"replicas", replicas},
                            {"log_dirs", std::vector<std::string>(replicas.size(), "any")}};
    };
    for (const auto& name : topics) {
      auto t = std::find_if(meta.topics.begin(), meta.topics.end(),
                            [&](const auto& t) { return t.name.value_or("") == name; });
      if (t == meta.topics.end() || t->error_code != 0 || t->partitions.empty()) {
        err << "Error: topic " << name << ": " << (t == meta.topics.end() ? "not found" : error_text(t->error_code))
            << "\n";
        return 1;
      }
      std::sort(t->partitions.begin(), t->partitions.end(),
                [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
      for (const auto& p : t->partitions)
        current["partitions"].push_back(entry(name, p.partition_index, p.replica_nodes));
      cluster::controller::Assignment assignment;
      std::string message;
      const auto factor = static_cast<int16_t>(t->partitions.front().replica_nodes.size());
      if (cluster::controller::assign_replicas(slots, {static_cast<int32_t>(t->partitions.size()), factor}, assignment,
                                               &message) != ErrorCode::NONE) {
        err << "Error: topic " << name << ": " << message << "\n";
        return 1;
      }
      for (size_t i = 0; i < assignment.size(); ++i)
        proposed["partitions"].push_back(entry(name, t->partitions[i].partition_index, assignment[i]));
    }
    if (json)
      out << nlohmann::json{{"current", current}, {"proposed", proposed}}.dump(2) << "\n";
    else
      out << "Current partition replica assignment\n"
          << current.dump() << "\n\nProposed partition reassignment configuration\n"
          << proposed.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int cluster_reassign(const std::string& bootstrap, const std::vector<ReassignmentSpec>& specs, bool cancel,
                     bool allow_replication_factor_change, const ReassignThrottles& throttles, bool json,
                     std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    const auto& throttle = throttles.replication;
    if (throttle && !cancel) {
      std::vector<std::string> topics;
      for (const auto& spec : specs)
        if (std::find(topics.begin(), topics.end(), spec.topic) == topics.end()) topics.push_back(spec.topic);
      const auto metadata = client.metadata(topics, 9);
      std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> adding;
      for (const auto& t : client.list_partition_reassignments().topics)
        for (const auto& p : t.partitions) adding[{t.name, p.partition_index}] = p.adding_replicas;
      const auto plan = plan_throttle(metadata, adding, specs);
      if (auto error = apply_throttle(bootstrap, metadata, plan, *throttle); !error.empty()) {
        err << "Error: cannot set the throttle: " << error << "\n";
        return 1;
      }
      if (!json) {
        std::vector<int32_t> brokers(plan.brokers.begin(), plan.brokers.end());
        out << "Throttle: " << *throttle << " B/s on brokers " << node_ids_cell(brokers) << "\n";
      }
    }
    protocol::AlterPartitionReassignmentsRequest req;
    req.timeout_ms = 60000;
    req.allow_replication_factor_change = allow_replication_factor_change;
    for (const auto& spec : specs) {
      auto topic =
          std::find_if(req.topics.begin(), req.topics.end(), [&](const auto& t) { return t.name == spec.topic; });
      if (topic == req.topics.end()) {
        topic = req.topics.emplace(req.topics.end());
        topic->name = spec.topic;
      }
      auto& p = topic->partitions.emplace_back();
      p.partition_index = spec.partition;
      if (cancel)
        p.replicas.reset();  // null: cancel
      else
        p.replicas = spec.replicas;
    }
    // v1 only when the option needs it: a broker of Kafka before 3.9 has v0.
    auto resp =
        client.call<protocol::AlterPartitionReassignmentsResponse>(req, allow_replication_factor_change ? 0 : 1);
    if (resp.error_code != 0 && resp.responses.empty()) {
      err << "Error: " << error_text(resp.error_code, resp.error_message) << "\n";
      return 1;
    }
    bool ok = resp.error_code == 0;
    nlohmann::json doc = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"TOPIC", "PARTITION", "RESULT"}};
    for (const auto& t : resp.responses)
      for (const auto& p : t.partitions) {
        const auto error = static_cast<ErrorCode>(p.error_code);
        ok = ok && error == ErrorCode::NONE;
        std::string result = error != ErrorCode::NONE ? error_text(p.error_code, p.error_message)
                             : cancel                 ? "cancelled"
                                                      : "started";
        doc.push_back({{"topic", t.name},
                       {"partition", p.partition_index},
                       {"error", error_name(error)},
                       {"message", p.error_message.value_or("")}});
        rows.push_back({t.name, std::to_string(p.partition_index), result});
      }
    auto moves = cancel ? std::vector<LogDirMove>{} : log_dir_moves(specs);
    if (!moves.empty()) {
      const auto brokers_metadata = client.metadata(std::vector<std::string>{});
      if (throttles.log_dirs) {
        std::set<int32_t> brokers;
        for (const auto& m : moves) brokers.insert(m.broker);
        if (auto error = apply_log_dir_throttle(brokers_metadata, brokers, *throttles.log_dirs); !error.empty()) {
          err << "Error: cannot set the log directory throttle: " << error << "\n";
          return 1;
        }
        if (!json)
          out << "Log directory throttle: " << *throttles.log_dirs << " B/s on brokers "
              << node_ids_cell(std::vector<int32_t>(brokers.begin(), brokers.end())) << "\n";
      }
      move_log_dirs(broker_addresses(brokers_metadata), moves, std::chrono::seconds(10));
    }
    for (const auto& m : moves) {
      const auto error = static_cast<ErrorCode>(m.error);
      ok = ok && error == ErrorCode::NONE;
      doc.push_back({{"topic", m.topic},
                     {"partition", m.partition},
                     {"broker", m.broker},
                     {"log_dir", m.dir},
                     {"error", error_name(error)},
                     {"message", ""}});
      rows.push_back({m.topic, std::to_string(m.partition),
                      "replica on broker " + std::to_string(m.broker) + " to " + m.dir + ": " +
                          (error == ErrorCode::NONE ? "started" : error_text(m.error))});
    }
    print_report(out, json, doc, rows);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int cluster_reassign_verify(const std::string& bootstrap, const std::vector<ReassignmentSpec>& specs, bool json,
                            std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    const auto ongoing = client.list_partition_reassignments();
    if (ongoing.error_code != 0) {
      err << "Error: " << error_text(ongoing.error_code, ongoing.error_message) << "\n";
      return 1;
    }
    std::set<std::pair<std::string, int32_t>> moving;
    for (const auto& t : ongoing.topics)
      for (const auto& p : t.partitions) moving.insert({t.name, p.partition_index});
    std::set<std::string> topics;
    for (const auto& spec : specs) topics.insert(spec.topic);
    const auto metadata = client.metadata(std::vector<std::string>(topics.begin(), topics.end()), 9);
    bool all_done = true;
    nlohmann::json partitions = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"TOPIC", "PARTITION", "STATUS"}};
    for (const auto& spec : specs) {
      std::optional<std::vector<int32_t>> replicas;
      for (const auto& t : metadata.topics)
        if (t.name.value_or("") == spec.topic)
          for (const auto& p : t.partitions)
            if (p.partition_index == spec.partition) replicas = p.replica_nodes;
      std::string status = moving.count({spec.topic, spec.partition}) ? "in progress"
                           : !replicas                                ? "unknown partition"
                           : *replicas == spec.replicas
                               ? "complete"
                               : "replicas are " + node_ids_cell(*replicas) + ", not " + node_ids_cell(spec.replicas);
      all_done = all_done && status == "complete";
      partitions.push_back({{"topic", spec.topic}, {"partition", spec.partition}, {"status", status}});
      rows.push_back({spec.topic, std::to_string(spec.partition), status});
    }
    nlohmann::json log_dirs = nlohmann::json::array();
    bool dirs_done = true;
    for (const auto& m : verify_log_dirs(metadata, specs)) {
      dirs_done = dirs_done && m.status == "complete";
      log_dirs.push_back({{"topic", m.topic},
                          {"partition", m.partition},
                          {"broker", m.broker},
                          {"log_dir", m.dir},
                          {"status", m.status}});
      rows.push_back({m.topic, std::to_string(m.partition),
                      "replica on broker " + std::to_string(m.broker) + " in " + m.dir + ": " + m.status});
    }
    bool removed = false;
    if (all_done && dirs_done) {
      if (auto error = clear_throttle(bootstrap, metadata, topics); !error.empty())
        err << "Error: cannot remove the throttle: " << error << "\n";
      else
        removed = true;
    }
    if (json) {
      out << nlohmann::json{{"partitions", partitions}, {"log_dirs", log_dirs}, {"throttle_removed", removed}}.dump(2)
          << "\n";
    } else {
      print_table(out, rows);
      if (removed) out << "Throttles removed.\n";
    }
    return all_done && removed && dirs_done ? 0 : 1;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int cluster_reassignments(const std::string& bootstrap, const std::vector<std::string>& partitions, bool json,
                          std::ostream& out, std::ostream& err) {
  try {
    const auto asked = parse_partition_filter(partitions);
    AdminClient client(bootstrap);
    const auto resp = client.list_partition_reassignments();  // the filter below picks
    if (resp.error_code != 0) {
      err << "Error: " << error_text(resp.error_code, resp.error_message) << "\n";
      return 1;
    }
    nlohmann::json doc = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"}};
    for (const auto& t : resp.topics) {
      auto wanted = asked.find(t.name);
      if (!asked.empty() && wanted == asked.end()) continue;
      for (const auto& p : t.partitions) {
        if (wanted != asked.end() && !wanted->second.empty() &&
            std::find(wanted->second.begin(), wanted->second.end(), p.partition_index) == wanted->second.end())
          continue;
        doc.push_back({{"topic", t.name},
                       {"partition", p.partition_index},
                       {"replicas", p.replicas},
                       {"adding", p.adding_replicas},
                       {"removing", p.removing_replicas}});
        rows.push_back({t.name, std::to_string(p.partition_index), node_ids_cell(p.replicas),
                        node_ids_cell(p.adding_replicas), node_ids_cell(p.removing_replicas)});
      }
    }
    print_report(out, json, doc, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
