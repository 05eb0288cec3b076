#include "app/group_command.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "app/admin_client.h"
#include "app/coordinator_client.h"
#include "app/table.h"
#include "app/topic_layout.h"
#include "base/error_code.h"
#include "protocol/consumer_protocol.h"
#include "protocol/messages.h"

namespace runnel::app {

namespace {

using namespace runnel::protocol;

}  // namespace

int group_list(const std::string& bootstrap, bool json, std::ostream& out, std::ostream& err) {
  try {
    // Each broker lists the groups it coordinates: ask every one, as
    // kafka-consumer-groups.sh does.
    AdminClient client(bootstrap);
    auto brokers = client.metadata(std::vector<std::string>{}).brokers;
    std::vector<ListGroupsResponse::ListedGroup> groups;
    for (const auto& b : brokers) {
      AdminClient broker(b.host + ":" + std::to_string(b.port));
      auto resp = broker.call<ListGroupsResponse>(ListGroupsRequest{}, 4);
      if (resp.error_code != 0) {
        err << "Error: ListGroups on broker " << b.node_id << " failed: " << error_text(resp.error_code) << "\n";
        return 1;
      }
      groups.insert(groups.end(), resp.groups.begin(), resp.groups.end());
    }
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
    if (json) {
      auto doc = nlohmann::json::array();
      for (const auto& g : groups)
        doc.push_back({{"group", g.group_id}, {"state", g.group_state}, {"protocol_type", g.protocol_type}});
      out << doc.dump(2) << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows{{"GROUP", "STATE", "PROTOCOL-TYPE"}};
    for (const auto& g : groups)
      rows.push_back(
          {g.group_id, g.group_state.empty() ? "-" : g.group_state, g.protocol_type.empty() ? "-" : g.protocol_type});
    print_table(out, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

namespace {

// One member as `group describe` shows it, from DescribeGroups (classic) or
// ConsumerGroupDescribe (consumer groups, KIP-848).
struct MemberView {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_host;
  std::string client_id;
  std::map<std::string, std::vector<int32_t>> assignment;
  bool classic = false;  // a classic-protocol member of a consumer group (mixed group)
};

struct GroupView {
  std::string type = "classic";
  std::string state;
  std::string protocol_type;
  std::string assignor;
  std::optional<int32_t> epoch;  // consumer groups: the group epoch
  std::vector<MemberView> members;
};

// The group as a consumer group (KIP-848), or nullopt when it is none.
std::optional<GroupView> describe_consumer_group(CoordinatorClient& client, const std::string& group) {
  ConsumerGroupDescribeRequest req;
  req.group_ids = {group};
  auto resp =
      client.call<ConsumerGroupDescribeResponse>(req, 1, [](const auto& r) { return sole_entry_error(r.groups); });
  if (resp.groups.size() != 1 || resp.groups[0].error_code != 0) return std::nullopt;
  const auto& g = resp.groups[0];
  GroupView view;
  view.type = "consumer";
  view.state = g.group_state;
  view.protocol_type = "consumer";
  view.assignor = g.assignor_name;
  view.epoch = g.group_epoch;
  for (const auto& m : g.members) {
    MemberView mv{m.member_id, m.instance_id, m.client_host, m.client_id, {}};
    mv.classic = m.member_type == 0;  // KIP-1099: 0 classic, 1 consumer
    for (const auto& tp : m.assignment.topic_partitions) {
      auto& parts = mv.assignment[tp.topic_name];
      parts.insert(parts.end(), tp.partitions.begin(), tp.partitions.end());
    }
    view.members.push_back(std::move(mv));
  }
  return view;
}

}  // namespace

int group_describe(const std::string& group, const std::string& bootstrap, bool json, std::ostream& out,
                   std::ostream& err) {
  try {
    // The group's coordinator answers for it; any other broker of a cluster
    // says NOT_COORDINATOR.
    CoordinatorClient client(bootstrap, group);

    DescribeGroupsRequest dreq;
    dreq.groups = {group};
    auto dresp = client.call<DescribeGroupsResponse>(dreq, 4, [](const auto& r) { return sole_entry_error(r.groups); });
    if (dresp.groups.size() != 1) {
      err << "Error: DescribeGroups returned " << dresp.groups.size() << " groups\n";
      return 1;
    }
    const auto& g = dresp.groups[0];
    if (g.error_code != 0) {
      err << "Error: DescribeGroups for '" << group << "' failed: " << error_text(g.error_code) << "\n";
      return 1;
    }
    GroupView view;
    if (g.group_state == "Dead") {
      // DescribeGroups knows classic groups only; a consumer group (KIP-848)
      // has its own API.
      auto consumer = describe_consumer_group(client, group);
      if (!consumer) {
        err << "Error: Consumer group '" << group << "' does not exist.\n";
        return 1;
      }
      view = std::move(*consumer);
    } else {
      view.state = g.group_state;
      view.protocol_type = g.protocol_type;
      view.assignor = g.protocol_data;
      bool consumer = g.protocol_type == "consumer" || g.protocol_type.empty();
      for (const auto& m : g.members) {
        MemberView mv{m.member_id, m.group_instance_id, m.client_host, m.client_id, {}};
        if (consumer) {
          try {
            mv.assignment = decode_consumer_assignment(m.member_assignment);
          } catch (const std::exception&) {
            mv.assignment.clear();
          }
        }
        view.members.push_back(std::move(mv));
      }
    }

    // Committed offsets: every partition the group has committed (topics = null).
    OffsetFetchRequest freq;
    freq.group_id = group;
    freq.topics = std::nullopt;
    auto fresp = client.call<OffsetFetchResponse>(freq, 7, offset_fetch_retriable_error);
    if (fresp.error_code != 0) {
      err << "Error: OffsetFetch for '" << group << "' failed: " << error_text(fresp.error_code) << "\n";
      return 1;
    }
    std::map<std::pair<std::string, int32_t>, int64_t> committed;
    for (const auto& t : fresp.topics)
      for (const auto& p : t.partitions)
        if (p.error_code == 0 && p.committed_offset >= 0) committed[{t.name, p.partition_index}] = p.committed_offset;

    // Which member owns which partition.
    struct Owner {
      std::string member_id, instance_id, host, client_id;
    };
    std::map<std::pair<std::string, int32_t>, Owner> owners;
    std::vector<const MemberView*> idle_members;
    for (const auto& m : view.members) {
      bool any = false;
      for (const auto& [topic, parts] : m.assignment)
        for (int32_t p : parts) {
          owners[{topic, p}] = Owner{m.member_id, m.instance_id.value_or("-"), m.client_host, m.client_id};
          any = true;
        }
      if (!any) idle_members.push_back(&m);
    }

    std::set<std::pair<std::string, int32_t>> partitions;
    for (const auto& [tp, _] : committed) partitions.insert(tp);
    for (const auto& [tp, _] : owners) partitions.insert(tp);

    // Log end offsets (ListOffsets, latest), from each partition's leader.
    std::map<std::pair<std::string, int32_t>, int64_t> log_end;
    std::map<std::string, std::unique_ptr<TopicLayout>> layouts;
    for (const auto& [topic, p] : partitions) {
      try {
        auto& layout = layouts[topic];
        if (!layout) layout = std::make_unique<TopicLayout>(bootstrap, topic);
        log_end[{topic, p}] = layout->list_offset(p, TopicLayout::kLatest);
      } catch (const AdminError&) {
        // A deleted topic, or a partition without a leader: no log end, no lag.
      }
    }

    auto offset_or_null = [](const auto& map, const auto& key) -> nlohmann::json {
      auto it = map.find(key);
      return it == map.end() ? nlohmann::json(nullptr) : nlohmann::json(it->second);
    };
    if (json) {
      nlohmann::json doc{{"group", group},
                         {"type", view.type},
                         {"state", view.state},
                         {"protocol_type", view.protocol_type},
                         {"assignor", view.assignor},
                         {"group_epoch", view.epoch ? nlohmann::json(*view.epoch) : nlohmann::json(nullptr)},
                         {"members", nlohmann::json::array()},
                         {"partitions", nlohmann::json::array()}};
      for (const auto& m : view.members) {
        nlohmann::json assignment = nlohmann::json::object();
        for (const auto& [topic, parts] : m.assignment) assignment[topic] = parts;
        doc["members"].push_back({{"member_id", m.member_id},
                                  {"instance_id", m.instance_id ? nlohmann::json(*m.instance_id) : nlohmann::json()},
                                  {"client_id", m.client_id},
                                  {"host", m.client_host},
                                  // KIP-848 mixed groups: which protocol the member speaks.
                                  {"protocol", view.type == "consumer" && !m.classic ? "consumer" : "classic"},
                                  {"assignment", assignment}});
      }
      for (const auto& tp : partitions) {
        auto cur = offset_or_null(committed, tp);
        auto end = offset_or_null(log_end, tp);
        auto o = owners.find(tp);
        doc["partitions"].push_back(
            {{"topic", tp.first},
             {"partition", tp.second},
             {"committed_offset", cur},
             {"log_end_offset", end},
             {"lag", cur.is_null() || end.is_null()
                         ? nlohmann::json()
                         : nlohmann::json(std::max<int64_t>(0, end.get<int64_t>() - cur.get<int64_t>()))},
             {"member_id", o == owners.end() ? nlohmann::json() : nlohmann::json(o->second.member_id)}});
      }
      out << doc.dump(2) << "\n";
      return 0;
    }
    out << "GROUP " << group << " TYPE " << view.type << " STATE " << (view.state.empty() ? "-" : view.state)
        << " PROTOCOL-TYPE " << (view.protocol_type.empty() ? "-" : view.protocol_type) << " ASSIGNOR "
        << (view.assignor.empty() ? "-" : view.assignor) << " MEMBERS " << view.members.size();
    if (view.epoch) out << " GROUP-EPOCH " << *view.epoch;
    size_t classic_members = 0;
    for (const auto& m : view.members) classic_members += m.classic ? 1 : 0;
    // A mixed group (KIP-848 online migration): its classic-protocol members.
    if (view.type == "consumer" && classic_members > 0) out << " CLASSIC-MEMBERS " << classic_members;
    out << "\n";
    if (view.members.empty()) out << "Consumer group '" << group << "' has no active members.\n";
    out << "\n";

    std::vector<std::vector<std::string>> rows{{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                                                "LAG", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID"}};
    for (const auto& tp : partitions) {
      auto c = committed.find(tp);
      auto e = log_end.find(tp);
      auto o = owners.find(tp);
      std::string cur = c == committed.end() ? "-" : std::to_string(c->second);
      std::string end = e == log_end.end() ? "-" : std::to_string(e->second);
      std::string lag = (c != committed.end() && e != log_end.end())
                            ? std::to_string(std::max<int64_t>(0, e->second - c->second))
                            : "-";
      rows.push_back({group, tp.first, std::to_string(tp.second), cur, end, lag,
                      o == owners.end() ? "-" : o->second.member_id, o == owners.end() ? "-" : o->second.instance_id,
                      o == owners.end() ? "-" : o->second.host, o == owners.end() ? "-" : o->second.client_id});
    }
    for (const auto* m : idle_members)
      rows.push_back(
          {group, "-", "-", "-", "-", "-", m->member_id, m->instance_id.value_or("-"), m->client_host, m->client_id});
    print_table(out, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
