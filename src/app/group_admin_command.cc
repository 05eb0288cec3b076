#include "app/group_admin_command.h"

#include <map>
#include <memory>
#include <set>

#include "app/admin_client.h"
#include "app/coordinator_client.h"
#include "app/table.h"
#include "app/topic_layout.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;

}  // namespace

int group_delete(const std::vector<std::string>& groups, const std::string& bootstrap, std::ostream& out,
                 std::ostream& err) {
  int status = 0;
  std::vector<std::vector<std::string>> rows{{"GROUP", "STATUS"}};
  for (const auto& group : groups) {
    try {
      CoordinatorClient coordinator(bootstrap, group);
      DeleteGroupsRequest req;
      req.groups_names = {group};
      auto resp =
          coordinator.call<DeleteGroupsResponse>(req, 2, [](const auto& r) { return sole_entry_error(r.results); });
      for (const auto& r : resp.results) {
        if (r.error_code != 0) status = 1;
        rows.push_back({r.group_id, r.error_code == 0 ? "OK" : error_text(r.error_code)});
      }
    } catch (const std::exception& e) {
      rows.push_back({group, e.what()});
      status = 1;
    }
  }
  print_table(out, rows);
  (void)err;
  return status;
}

int group_seek(const std::string& group, const std::string& to, const std::vector<std::string>& topics,
               const std::string& bootstrap, std::ostream& out, std::ostream& err) {
  try {
    CoordinatorClient coordinator(bootstrap, group);
    // The partitions to move: every partition of the topics named, or what the group has committed.
    std::map<std::string, std::set<int32_t>> partitions;
    std::map<std::string, std::unique_ptr<TopicLayout>> layouts;
    auto layout = [&](const std::string& topic) -> TopicLayout& {
      auto& l = layouts[topic];
      if (!l) l = std::make_unique<TopicLayout>(bootstrap, topic);
      return *l;
    };
    if (!topics.empty()) {
      for (const auto& t : topics)
        for (int32_t p = 0; p < layout(t).partitions(); ++p) partitions[t].insert(p);
    } else {
      OffsetFetchRequest freq;
      freq.group_id = group;
      freq.topics = std::nullopt;
      auto fresp = coordinator.call<OffsetFetchResponse>(freq, 7, offset_fetch_retriable_error);
      if (fresp.error_code != 0) {
        err << "Error: OffsetFetch for '" << group << "': " << error_text(fresp.error_code) << "\n";
        return 1;
      }
      for (const auto& t : fresp.topics)
        for (const auto& p : t.partitions)
          if (p.error_code == 0 && p.committed_offset >= 0) partitions[t.name].insert(p.partition_index);
      if (partitions.empty()) {
        err << "Error: group '" << group << "' has no committed offsets; name the topics with --topic\n";
        return 1;
      }
    }
    int64_t which = 0;
    std::optional<int64_t> fixed;
    if (to == "beginning" || to == "start")
      which = TopicLayout::kEarliest;
    else if (to == "end")
      which = TopicLayout::kLatest;
    else if (!to.empty() && to[0] == '@')
      which = std::stoll(to.substr(1));
    else
      fixed = std::stoll(to);

    OffsetCommitRequest creq;
    creq.group_id = group;
    creq.generation_id_or_member_epoch = -1;
    creq.member_id = "";
    std::map<std::pair<std::string, int32_t>, int64_t> target;
    for (const auto& [topic, parts] : partitions) {
      OffsetCommitRequest::OffsetCommitRequestTopic ct;
      ct.name = topic;
      for (int32_t p : parts) {
        int64_t offset = fixed.value_or(-1);
        if (!fixed) {
          offset = layout(topic).list_offset(p, which);
          // A timestamp past every record: the end, as Kafka's --to-datetime does.
          if (offset < 0 && which >= 0) offset = layout(topic).list_offset(p, TopicLayout::kLatest);
        }
        OffsetCommitRequest::OffsetCommitRequestPartition cp;
        cp.partition_index = p;
        cp.committed_offset = offset;
        ct.partitions.push_back(cp);
        target[{topic, p}] = offset;
      }
      creq.topics.push_back(ct);
    }
    auto cresp = coordinator.call<OffsetCommitResponse>(creq, 5, offset_commit_retriable_error);
    int status = 0;
    std::vector<std::vector<std::string>> rows{{"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET", "STATUS"}};
    for (const auto& rt : cresp.topics)
      for (const auto& rp : rt.partitions) {
        if (rp.error_code != 0) status = 1;
        rows.push_back({group, rt.name, std::to_string(rp.partition_index),
                        std::to_string(target[{rt.name, rp.partition_index}]),
                        rp.error_code == 0 ? "OK" : error_text(rp.error_code)});
      }
    print_table(out, rows);
    if (status) err << "Error: the group must be empty (no member) for its offsets to be moved\n";
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
