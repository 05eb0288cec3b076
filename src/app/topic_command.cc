#include "app/topic_command.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "app/admin_client.h"
#include "app/table.h"
#include "app/topic_layout.h"
#include "base/error_code.h"
#include "cluster/etcd/etcd_format.h"
#include "config/dynamic_broker_config.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;
using json = nlohmann::json;

constexpr int8_t kTopicResource = 2;
constexpr int32_t kTimeoutMs = 30000;

// Topic ids as Kafka prints them: URL-safe base64 without padding.
std::string topic_id_text(const Uuid& id) {
  std::string b64 = cluster::etcd::base64_encode(std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return b64;
}

void print_json(std::ostream& out, const json& doc) { out << doc.dump(2) << "\n"; }

// What a create/delete/alter/add-partitions did to one topic.
struct TopicResult {
  std::string name;
  int16_t error = 0;
  std::optional<std::string> message;
  json extra = json::object();  // more fields for the JSON output
};

// Prints TOPIC STATUS (or JSON objects with name/ok/status); 1 if any failed.
int print_results(const TopicCommandOptions& o, const std::vector<TopicResult>& results, std::ostream& out) {
  int status = 0;
  json doc = json::array();
  std::vector<std::vector<std::string>> rows{{"TOPIC", "STATUS"}};
  for (const auto& r : results) {
    bool ok = r.error == 0;
    if (!ok) status = 1;
    std::string what = ok ? "OK" : error_text(r.error, r.message);
    json entry{{"name", r.name}, {"ok", ok}, {"status", what}};
    entry.update(r.extra);
    doc.push_back(entry);
    rows.push_back({r.name, what});
  }
  if (o.json)
    print_json(out, doc);
  else
    print_table(out, rows);
  return status;
}

}  // namespace

std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const auto& kv : items) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("expected key=value, got '" + kv + "'");
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

int topic_list(const TopicCommandOptions& o, bool internal, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    auto md = client.metadata(std::nullopt, 10);
    std::sort(md.topics.begin(), md.topics.end(),
              [](const auto& a, const auto& b) { return a.name.value_or("") < b.name.value_or(""); });
    json doc = json::array();
    std::vector<std::vector<std::string>> rows{{"NAME", "PARTITIONS", "REPLICAS"}};
    for (const auto& t : md.topics) {
      if (t.is_internal && !internal) continue;
      size_t replicas = t.partitions.empty() ? 0 : t.partitions.front().replica_nodes.size();
      doc.push_back({{"name", t.name.value_or("")},
                     {"id", topic_id_text(t.topic_id)},
                     {"partitions", t.partitions.size()},
                     {"replicas", replicas},
                     {"internal", t.is_internal}});
      rows.push_back({t.name.value_or(""), std::to_string(t.partitions.size()), std::to_string(replicas)});
    }
    if (o.json)
      print_json(out, doc);
    else
      print_table(out, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int topic_describe(const TopicCommandOptions& o, const std::string& topic, bool all_configs, std::ostream& out,
                   std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    auto md = client.metadata(std::vector<std::string>{topic}, 10);
    if (md.topics.size() != 1 || md.topics[0].error_code != 0) {
      err << "Error: topic '" << topic << "': "
          << error_text(md.topics.empty() ? int16_t(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) : md.topics[0].error_code)
          << "\n";
      return 1;
    }
    auto& t = md.topics[0];
    std::sort(t.partitions.begin(), t.partitions.end(),
              [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
    const auto brokers = broker_addresses(md);

    DescribeConfigsRequest creq;
    DescribeConfigsRequest::DescribeConfigsResource resource;
    resource.resource_type = kTopicResource;
    resource.resource_name = topic;
    resource.configuration_keys.reset();
    creq.resources.push_back(resource);
    auto cresp = client.call<DescribeConfigsResponse>(creq, 4);
    json configs = json::array();
    std::vector<std::vector<std::string>> config_rows{{"KEY", "VALUE", "SOURCE"}};
    int status = 0;
    for (const auto& r : cresp.results) {
      if (r.error_code != 0) {
        err << "Error: DescribeConfigs: " << error_text(r.error_code, r.error_message) << "\n";
        status = 1;
        continue;
      }
      auto entries = r.configs;
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      for (const auto& c : entries) {
        if (!all_configs && c.config_source == 5) continue;
        std::string value = c.is_sensitive ? "(sensitive)" : c.value.value_or("null");
        configs.push_back({{"name", c.name}, {"value", value}, {"source", config_source_name(c.config_source)}});
        config_rows.push_back({c.name, value, config_source_name(c.config_source)});
      }
    }

    // Log start and end offsets, asked of each partition's leader.
    std::map<int32_t, std::pair<int64_t, int64_t>> offsets;  // partition -> (start, end)
    std::map<int32_t, std::vector<int32_t>> by_leader;
    for (const auto& p : t.partitions)
      if (p.leader_id >= 0) by_leader[p.leader_id].push_back(p.partition_index);
    for (const auto& [leader, partitions] : by_leader) {
      auto address = brokers.find(leader);
      if (address == brokers.end()) continue;
      try {
        AdminClient leader_client(address->second);
        for (int64_t which : {TopicLayout::kEarliest, TopicLayout::kLatest}) {
          ListOffsetsRequest lreq;
          lreq.replica_id = -1;
          ListOffsetsRequest::ListOffsetsTopic lt;
          lt.name = topic;
          for (int32_t p : partitions) {
            ListOffsetsRequest::ListOffsetsPartition lp;
            lp.partition_index = p;
            lp.timestamp = which;
            lt.partitions.push_back(lp);
          }
          lreq.topics.push_back(lt);
          auto lresp = leader_client.call<ListOffsetsResponse>(lreq, 5);
          for (const auto& rt : lresp.topics)
            for (const auto& rp : rt.partitions) {
              if (rp.error_code != 0) continue;
              auto& slot = offsets.try_emplace(rp.partition_index, -1, -1).first->second;
              (which == TopicLayout::kEarliest ? slot.first : slot.second) = rp.offset;
            }
        }
      } catch (const std::exception& e) {
        err << "Error: broker " << leader << ": " << e.what() << "\n";
        status = 1;
      }
    }
    // Moves in progress (kafka-topics.sh --describe shows their adding and
    // removing replicas too); left out, as there, when the broker refuses
    // (listing them needs DESCRIBE on the cluster).
    std::map<int32_t, ListPartitionReassignmentsResponse::Partitions> moving;
    try {
      std::vector<int32_t> indexes;
      for (const auto& p : t.partitions) indexes.push_back(p.partition_index);
      auto moves = client.list_partition_reassignments(std::map<std::string, std::vector<int32_t>>{{topic, indexes}});
      for (const auto& mt : moves.topics)
        for (const auto& mp : mt.partitions) moving[mp.partition_index] = mp;
    } catch (const std::exception&) {
    }
    json partitions = json::array();
    std::vector<std::vector<std::string>> partition_rows{
        {"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOG-START-OFFSET", "HIGH-WATERMARK"}};
    if (!moving.empty())
      for (const auto& column : {"ADDING", "REMOVING"}) partition_rows[0].push_back(column);
    for (const auto& p : t.partitions) {
      auto it = offsets.find(p.partition_index);
      int64_t start = it == offsets.end() ? -1 : it->second.first;
      int64_t end = it == offsets.end() ? -1 : it->second.second;
      auto move = moving.find(p.partition_index);
      const std::vector<int32_t> none;
      const auto& adding = move == moving.end() ? none : move->second.adding_replicas;
      const auto& removing = move == moving.end() ? none : move->second.removing_replicas;
      partitions.push_back({{"partition", p.partition_index},
                            {"leader", p.leader_id},
                            {"leader_epoch", p.leader_epoch},
                            {"replicas", p.replica_nodes},
                            {"isr", p.isr_nodes},
                            {"offline_replicas", p.offline_replicas},
                            {"adding_replicas", adding},
                            {"removing_replicas", removing},
                            {"log_start_offset", start},
                            {"high_watermark", end}});
      partition_rows.push_back({std::to_string(p.partition_index),
                                p.leader_id < 0 ? "none" : std::to_string(p.leader_id), std::to_string(p.leader_epoch),
                                node_ids_cell(p.replica_nodes), node_ids_cell(p.isr_nodes),
                                start < 0 ? "-" : std::to_string(start), end < 0 ? "-" : std::to_string(end)});
      if (!moving.empty())
        for (const auto* ids : {&adding, &removing})
          partition_rows.back().push_back(ids->empty() ? "-" : node_ids_cell(*ids));
    }
    size_t replicas = t.partitions.empty() ? 0 : t.partitions.front().replica_nodes.size();
    if (o.json) {
      print_json(out, {{"name", topic},
                       {"id", topic_id_text(t.topic_id)},
                       {"internal", t.is_internal},
                       {"partitions", partitions},
                       {"replicas", replicas},
                       {"configs", configs}});
      return status;
    }
    out << "SUMMARY\n=======\n";
    print_table(out, {{"NAME", topic},
                      {"ID", topic_id_text(t.topic_id)},
                      {"PARTITIONS", std::to_string(t.partitions.size())},
                      {"REPLICAS", std::to_string(replicas)},
                      {"INTERNAL", t.is_internal ? "true" : "false"}});
    out << "\nCONFIGS\n=======\n";
    print_table(out, config_rows);
    out << "\nPARTITIONS\n==========\n";
    print_table(out, partition_rows);
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int topic_create(const TopicCommandOptions& o, const std::vector<std::string>& topics, int32_t partitions,
                 int16_t replication_factor, const std::map<std::string, std::string>& configs, std::ostream& out,
                 std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    CreateTopicsRequest req;
    for (const auto& name : topics) {
      CreateTopicsRequest::CreatableTopic t;
      t.name = name;
      t.num_partitions = partitions;
      t.replication_factor = replication_factor;
      for (const auto& [k, v] : configs) {
        CreateTopicsRequest::CreatableTopicConfig c;
        c.name = k;
        c.value = v;
        t.configs.push_back(c);
      }
      req.topics.push_back(t);
    }
    req.timeout_ms = kTimeoutMs;
    auto resp = client.call<CreateTopicsResponse>(req, 7);
    std::vector<TopicResult> results;
    for (const auto& r : resp.topics)
      results.push_back({r.name, r.error_code, r.error_message, {{"id", topic_id_text(r.topic_id)}}});
    return print_results(o, results, out);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int topic_delete(const TopicCommandOptions& o, const std::vector<std::string>& topics, std::ostream& out,
                 std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    DeleteTopicsRequest req;
    req.topic_names = topics;
    req.timeout_ms = kTimeoutMs;
    auto resp = client.call<DeleteTopicsResponse>(req, 5);
    std::vector<TopicResult> results;
    for (const auto& r : resp.responses) results.push_back({r.name.value_or(""), r.error_code, r.error_message});
    return print_results(o, results, out);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int topic_alter_config(const TopicCommandOptions& o, const std::string& topic,
                       const std::map<std::string, std::string>& set, const std::vector<std::string>& remove,
                       std::ostream& out, std::ostream& err) {
  try {
    if (set.empty() && remove.empty()) {
      err << "Error: nothing to change (--set key=value, --delete key)\n";
      return 1;
    }
    AdminClient client(o.bootstrap);
    auto resp = client.incremental_alter_configs(kTopicResource, topic, set, remove);
    std::vector<TopicResult> results;
    for (const auto& rr : resp.responses) results.push_back({rr.resource_name, rr.error_code, rr.error_message});
    return print_results(o, results, out);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int topic_add_partitions(const TopicCommandOptions& o, const std::string& topic, int32_t count, std::ostream& out,
                         std::ostream& err) {
  try {
    if (count <= 0) {
      err << "Error: --num must be at least 1\n";
      return 1;
    }
    AdminClient client(o.bootstrap);
    auto md = client.metadata(std::vector<std::string>{topic}, 10);
    if (md.topics.size() != 1 || md.topics[0].error_code != 0) {
      err << "Error: topic '" << topic << "': "
          << error_text(md.topics.empty() ? int16_t(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) : md.topics[0].error_code)
          << "\n";
      return 1;
    }
    int32_t total = static_cast<int32_t>(md.topics[0].partitions.size()) + count;
    CreatePartitionsRequest req;
    CreatePartitionsRequest::CreatePartitionsTopic t;
    t.name = topic;
    t.count = total;
    t.assignments.reset();
    req.topics.push_back(t);
    req.timeout_ms = kTimeoutMs;
    auto resp = client.call<CreatePartitionsResponse>(req, 3);
    std::vector<TopicResult> results;
    for (const auto& r : resp.results)
      results.push_back({r.name, r.error_code, r.error_message, {{"partitions", total}}});
    return print_results(o, results, out);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
