#include "app/consume_command.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "app/coordinator_client.h"
#include "app/progress_line.h"
#include "app/topic_layout.h"
#include "base/endian.h"
#include "base/error_code.h"
#include "cluster/etcd/etcd_format.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;

constexpr int32_t kMaxWaitMs = 500;
constexpr int32_t kPartitionMaxBytes = 1 << 20;

std::string text(const std::optional<std::vector<uint8_t>>& b) {
  return b ? std::string(b->begin(), b->end()) : std::string();
}

// kcat's -f: the format applied to one record.
std::string format_record(const std::string& f, const std::string& topic, int32_t partition, const Record& r) {
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '\\' && i + 1 < f.size()) {
      char e = f[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
      continue;
    }
    if (c != '%' || i + 1 == f.size()) {
      out += c;
      continue;
    }
    switch (char k = f[++i]) {
      case 's':
        out += text(r.value);
        break;
      case 'S':
        out += r.value ? std::to_string(r.value->size()) : "-1";
        break;
      case 'k':
        out += text(r.key);
        break;
      case 'K':
        out += r.key ? std::to_string(r.key->size()) : "-1";
        break;
      case 't':
        out += topic;
        break;
      case 'p':
        out += std::to_string(partition);
        break;
      case 'o':
        out += std::to_string(r.offset);
        break;
      case 'T':
        out += std::to_string(r.timestamp);
        break;
      case '%':
        out += '%';
        break;
      default:
        out += '%', out += k;
    }
  }
  return out;
}

std::map<int32_t, int64_t> committed(CoordinatorClient& coordinator, const std::string& group, const std::string& topic,
                                     const std::vector<int32_t>& partitions) {
  OffsetFetchRequest req;
  req.group_id = group;
  OffsetFetchRequest::OffsetFetchRequestTopic t;
  t.name = topic;
  t.partition_indexes = partitions;
  req.topics = std::vector<OffsetFetchRequest::OffsetFetchRequestTopic>{t};
  auto resp = coordinator.call<OffsetFetchResponse>(req, 5, offset_fetch_retriable_error);
  if (resp.error_code != 0)
    throw AdminError("OffsetFetch: " + std::string(error_name(static_cast<ErrorCode>(resp.error_code))));
  std::map<int32_t, int64_t> out;
  for (const auto& rt : resp.topics)
    for (const auto& rp : rt.partitions) {
      if (rp.error_code != 0)
        throw AdminError("OffsetFetch " + topic + "-" + std::to_string(rp.partition_index) + ": " +
                         error_text(rp.error_code));
      if (rp.committed_offset >= 0) out[rp.partition_index] = rp.committed_offset;
    }
  return out;
}

void commit(CoordinatorClient& coordinator, const std::string& group, const std::string& topic,
            const std::map<int32_t, int64_t>& offsets, std::ostream& err) {
  OffsetCommitRequest req;
  req.group_id = group;
  req.generation_id_or_member_epoch = -1;
  req.member_id = "";
  OffsetCommitRequest::OffsetCommitRequestTopic t;
  t.name = topic;
  for (auto [p, offset] : offsets) {
    OffsetCommitRequest::OffsetCommitRequestPartition rp;
    rp.partition_index = p;
    rp.committed_offset = offset;
    t.partitions.push_back(rp);
  }
  req.topics.push_back(t);
  auto resp = coordinator.call<OffsetCommitResponse>(req, 5, offset_commit_retriable_error);
  for (const auto& rt : resp.topics)
    for (const auto& rp : rt.partitions)
      if (rp.error_code != 0)
        err << "Error: committing " << topic << "-" << rp.partition_index << ": "
            << error_name(static_cast<ErrorCode>(rp.error_code)) << "\n";
}

}  // namespace

int consume_records(const ConsumeOptions& o, std::ostream& out, std::ostream& err) {
  try {
    TopicLayout layout(o.bootstrap, o.topic);
    return consume_records(layout, o, out, err);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int consume_records(TopicLayout& layout, const ConsumeOptions& o, std::ostream& out, std::ostream& err) {
  try {
    std::vector<int32_t> partitions;
    if (o.partition) {
      if (*o.partition < 0 || *o.partition >= layout.partitions()) {
        err << "Error: topic '" << o.topic << "' has no partition " << *o.partition << "\n";
        return 1;
      }
      partitions.push_back(*o.partition);
    } else {
      for (int32_t p = 0; p < layout.partitions(); ++p) partitions.push_back(p);
    }
    std::unique_ptr<CoordinatorClient> group_coordinator;
    std::map<int32_t, int64_t> from_group;
    if (o.group) {
      group_coordinator = std::make_unique<CoordinatorClient>(o.bootstrap, *o.group);
      if (!o.offset) from_group = committed(*group_coordinator, *o.group, o.topic, partitions);
    }
    // Where each partition starts.
    std::map<int32_t, int64_t> position;
    std::string spec = o.offset.value_or("beginning");
    for (int32_t p : partitions) {
      if (auto it = from_group.find(p); it != from_group.end()) {
        position[p] = it->second;
      } else if (spec == "beginning" || spec == "start") {
        position[p] = layout.list_offset(p, TopicLayout::kEarliest);
      } else if (spec == "end") {
        position[p] = layout.list_offset(p, TopicLayout::kLatest);
      } else if (!spec.empty() && spec[0] == '@') {
        int64_t at = layout.list_offset(p, std::stoll(spec.substr(1)));
        position[p] = at >= 0 ? at : layout.list_offset(p, TopicLayout::kLatest);
      } else {
        position[p] = std::stoll(spec);
      }
    }
    auto print = [&](int32_t p, const Record& r) {
      if (!o.json) {
        out << format_record(o.format, o.topic, p, r);
        return;
      }
      nlohmann::json j{{"topic", o.topic},         {"partition", p}, {"offset", r.offset},
                       {"timestamp", r.timestamp}, {"key", nullptr}, {"value", nullptr}};
      if (r.key) j["key"] = text(r.key);
      if (r.value) j["value"] = text(r.value);
      auto headers = nlohmann::json::array();
      for (const auto& h : r.headers)
        headers.push_back({{"key", h.key}, {"value", h.value ? nlohmann::json(text(h.value)) : nlohmann::json()}});
      j["headers"] = std::move(headers);
      if (o.json_bytes) {
        auto b64 = [](const std::vector<uint8_t>& b) {
          return cluster::etcd::base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
        };
        j["key_base64"] = r.key ? nlohmann::json(b64(*r.key)) : nlohmann::json();
        j["value_base64"] = r.value ? nlohmann::json(b64(*r.value)) : nlohmann::json();
      }
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    };
    uint64_t printed = 0;
    ProgressLine progress(err, "consumed", o.progress);
    std::set<int32_t> at_end;
    std::map<int32_t, int64_t> to_commit;
    while (!o.count || printed < *o.count) {
      // One Fetch per leader for its partitions.
      std::map<AdminClient*, std::vector<int32_t>> by_leader;
      for (int32_t p : partitions) by_leader[&layout.leader(p)].push_back(p);
      for (auto& [client, parts] : by_leader) {
        FetchRequest req;
        req.replica_id = -1;
        req.max_wait_ms = kMaxWaitMs;
        req.min_bytes = 1;
        req.max_bytes = 16 * kPartitionMaxBytes;
        req.isolation_level = o.read_committed ? 1 : 0;
        FetchRequest::FetchTopic ft;
        ft.topic = o.topic;
        for (int32_t p : parts) {
          FetchRequest::FetchPartition fp;
          fp.partition = p;
          fp.fetch_offset = position[p];
          fp.partition_max_bytes = kPartitionMaxBytes;
          ft.partitions.push_back(fp);
        }
        req.topics.push_back(ft);
        std::vector<uint8_t> keep;
        auto resp = client->call<FetchResponse>(req, 11, &keep);
        for (const auto& rt : resp.responses) {
          for (const auto& pd : rt.partitions) {
            int32_t p = pd.partition_index;
            if (pd.error_code != 0) {
              err << "Error: fetching " << o.topic << "-" << p << ": "
                  << error_name(static_cast<ErrorCode>(pd.error_code)) << "\n";
              return 1;
            }
            for_each_batch(pd.records.memory, [&](std::span<const uint8_t> batch) {
              if (o.count && printed >= *o.count) return false;
              BatchView view(batch);
              if (view.next_offset() <= position[p]) return true;
              if (!view.is_control()) {
                for (const auto& r : decode_record_batch(batch)) {
                  if (r.offset < position[p]) continue;
                  if (o.count && printed >= *o.count) return false;
                  print(p, r);
                  ++printed;
                  progress.add(1, (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0));
                  position[p] = r.offset + 1;
                }
              }
              position[p] = view.next_offset();
              return true;
            });
            to_commit[p] = position[p];
            if (position[p] >= pd.high_watermark)
              at_end.insert(p);
            else
              at_end.erase(p);
          }
        }
      }
      out.flush();
      if (group_coordinator && !to_commit.empty()) commit(*group_coordinator, *o.group, o.topic, to_commit, err);
      if (o.exit_at_end && at_end.size() == partitions.size()) break;
    }
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
