#include "app/cluster_command.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/table.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {

int cluster_status(const std::string& bootstrap, bool json, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    auto cluster = client.call<protocol::DescribeClusterResponse>(protocol::DescribeClusterRequest{}, 0);
    if (cluster.error_code != 0) {
      err << "DescribeCluster failed: " << error_name(static_cast<ErrorCode>(cluster.error_code)) << "\n";
      return 1;
    }
    std::sort(cluster.brokers.begin(), cluster.brokers.end(),
              [](const auto& a, const auto& b) { return a.broker_id < b.broker_id; });
    protocol::MetadataRequest all;  // null topics: every topic
    all.topics.reset();
    auto metadata = client.call<protocol::MetadataResponse>(all, 9);
    std::sort(metadata.topics.begin(), metadata.topics.end(),
              [](const auto& a, const auto& b) { return a.name.value_or("") < b.name.value_or(""); });
    for (auto& t : metadata.topics)
      std::sort(t.partitions.begin(), t.partitions.end(),
                [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
    auto under_replicated = [](const auto& p) {
      return p.isr_nodes.size() < p.replica_nodes.size() || p.leader_id < 0;
    };

    if (json) {
      nlohmann::json doc{{"cluster_id", cluster.cluster_id},
                         {"controller_id", cluster.controller_id},
                         {"brokers", nlohmann::json::array()},
                         {"partitions", nlohmann::json::array()}};
      for (const auto& b : cluster.brokers)
        doc["brokers"].push_back({{"node_id", b.broker_id},
                                  {"host", b.host},
                                  {"port", b.port},
                                  {"rack", b.rack ? nlohmann::json(*b.rack) : nlohmann::json()}});
      for (const auto& t : metadata.topics)
        for (const auto& p : t.partitions)
          doc["partitions"].push_back({{"topic", t.name.value_or("?")},
                                       {"partition", p.partition_index},
                                       {"leader", p.leader_id},
                                       {"leader_epoch", p.leader_epoch},
                                       {"replicas", p.replica_nodes},
                                       {"isr", p.isr_nodes},
                                       {"under_replicated", under_replicated(p)}});
      out << doc.dump(2) << "\n";
      return 0;
    }

    out << "CLUSTER " << cluster.cluster_id << "  CONTROLLER " << cluster.controller_id << "\n\n";
    std::vector<std::vector<std::string>> brokers{{"BROKER", "HOST", "PORT", "RACK"}};
    for (const auto& b : cluster.brokers)
      brokers.push_back({std::to_string(b.broker_id), b.host, std::to_string(b.port), b.rack.value_or("-")});
    print_table(out, brokers);

    std::vector<std::vector<std::string>> rows{
        {"TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "UNDER-REPLICATED"}};
    for (const auto& t : metadata.topics) {
      for (const auto& p : t.partitions) {
        bool under = under_replicated(p);
        rows.push_back({t.name.value_or("?"), std::to_string(p.partition_index),
                        p.leader_id < 0 ? "none" : std::to_string(p.leader_id), std::to_string(p.leader_epoch),
                        node_ids_cell(p.replica_nodes), node_ids_cell(p.isr_nodes), under ? "yes" : "no"});
      }
    }
    out << "\n";
    print_table(out, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "cannot read the cluster's status from " << bootstrap << ": " << e.what() << "\n";
    return 1;
  }
}

int cluster_elect_leaders(const std::string& bootstrap, const std::vector<std::string>& partitions, bool unclean,
                          bool json, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    protocol::ElectLeadersRequest req;
    req.election_type = unclean ? 1 : 0;
    req.timeout_ms = 60000;
    if (!partitions.empty()) {
      // A topic alone means all its partitions: ask Metadata how many.
      auto& asked = req.topic_partitions.emplace();
      for (const auto& spec : partitions) {
        auto colon = spec.rfind(':');
        std::string topic = colon == std::string::npos ? spec : spec.substr(0, colon);
        auto entry = std::find_if(asked.begin(), asked.end(), [&](const auto& t) { return t.topic == topic; });
        if (entry == asked.end()) {
          entry = asked.emplace(asked.end());
          entry->topic = topic;
        }
        if (colon != std::string::npos) {
          entry->partitions.push_back(std::stoi(spec.substr(colon + 1)));
          continue;
        }
        auto meta = client.metadata(std::vector<std::string>{topic}, 9);
        if (meta.topics.empty() || meta.topics.front().error_code != 0) {
          err << "Error: topic " << topic << ": "
              << (meta.topics.empty() ? "not found" : error_text(meta.topics.front().error_code)) << "\n";
          return 1;
        }
        for (const auto& p : meta.topics.front().partitions) entry->partitions.push_back(p.partition_index);
        std::sort(entry->partitions.begin(), entry->partitions.end());
      }
    }
    auto resp = client.call<protocol::ElectLeadersResponse>(req, 2);
    if (resp.error_code != 0 && resp.replica_election_results.empty()) {
      err << "Error: " << error_text(resp.error_code) << "\n";
      return 1;
    }
    bool ok = true;
    nlohmann::json doc = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"TOPIC", "PARTITION", "RESULT"}};
    for (const auto& t : resp.replica_election_results)
      for (const auto& p : t.partition_result) {
        const auto error = static_cast<ErrorCode>(p.error_code);
        const bool fine = error == ErrorCode::NONE || error == ErrorCode::ELECTION_NOT_NEEDED;
        ok = ok && fine;
        std::string result = error == ErrorCode::NONE                  ? "elected"
                             : error == ErrorCode::ELECTION_NOT_NEEDED ? "already elected"
                                                                       : error_text(p.error_code, p.error_message);
        doc.push_back({{"topic", t.topic},
                       {"partition", p.partition_id},
                       {"error", error_name(error)},
                       {"message", p.error_message.value_or("")}});
        rows.push_back({t.topic, std::to_string(p.partition_id), result});
      }
    print_report(out, json, doc, rows);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
