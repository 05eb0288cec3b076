#include "app/group_command.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "app/admin_client.h"
#include "app/table.h"
#include "base/error_code.h"
#include "protocol/consumer_protocol.h"
#include "protocol/messages.h"

namespace runnel::app {

namespace {

using namespace runnel::protocol;

}  // namespace

int group_list(const std::string& bootstrap, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);
    ListGroupsRequest req;
    auto resp = client.call<ListGroupsResponse>(req, 4);
    if (resp.error_code != 0) {
      err << "Error: ListGroups failed: " << error_text(resp.error_code) << "\n";
      return 1;
    }
    auto groups = resp.groups;
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
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
std::optional<GroupView> describe_consumer_group(AdminClient& client, const std::string& group) {
  ConsumerGroupDescribeRequest req;
  req.group_ids = {group};
  auto resp = client.call<ConsumerGroupDescribeResponse>(req, 0);
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
    for (const auto& tp : m.assignment.topic_partitions) {
      auto& parts = mv.assignment[tp.topic_name];
      parts.insert(parts.end(), tp.partitions.begin(), tp.partitions.end());
    }
    view.members.push_back(std::move(mv));
  }
  return view;
}

}  // namespace

int group_describe(const std::string& group, const std::string& bootstrap, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(bootstrap);

    DescribeGroupsRequest dreq;
    dreq.groups = {group};
    auto dresp = client.call<DescribeGroupsResponse>(dreq, 4);
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
    auto fresp = client.call<OffsetFetchResponse>(freq, 7);
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

    // Log end offsets (ListOffsets, latest).
    std::map<std::pair<std::string, int32_t>, int64_t> log_end;
    if (!partitions.empty()) {
      ListOffsetsRequest lreq;
      lreq.replica_id = -1;
      for (const auto& [topic, p] : partitions) {
        if (lreq.topics.empty() || lreq.topics.back().name != topic) {
          lreq.topics.emplace_back();
          lreq.topics.back().name = topic;
        }
        ListOffsetsRequest::ListOffsetsPartition lp;
        lp.partition_index = p;
        lp.timestamp = -1;
        lreq.topics.back().partitions.push_back(lp);
      }
      auto lresp = client.call<ListOffsetsResponse>(lreq, 1);
      for (const auto& t : lresp.topics)
        for (const auto& p : t.partitions)
          if (p.error_code == 0) log_end[{t.name, p.partition_index}] = p.offset;
    }

    out << "GROUP " << group << " TYPE " << view.type << " STATE " << (view.state.empty() ? "-" : view.state)
        << " PROTOCOL-TYPE " << (view.protocol_type.empty() ? "-" : view.protocol_type) << " ASSIGNOR "
        << (view.assignor.empty() ? "-" : view.assignor) << " MEMBERS " << view.members.size();
    if (view.epoch) out << " GROUP-EPOCH " << *view.epoch;
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
