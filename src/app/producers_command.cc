#include "app/producers_command.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "app/admin_client.h"
#include "app/table.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;

std::string or_dash(int64_t v) { return v < 0 ? "-" : std::to_string(v); }

// Which partitions to ask about, grouped by their leader's address.
struct Plan {
  std::map<std::string, std::map<std::string, std::vector<int32_t>>> by_leader;  // address -> topic -> partitions
  int status = 0;
};

Plan plan(const std::optional<std::string>& topic, std::optional<int32_t> partition, const std::string& bootstrap,
          std::ostream& err) {
  AdminClient client(bootstrap);
  auto resp = client.metadata(topic ? std::optional(std::vector<std::string>{*topic}) : std::nullopt);
  const auto brokers = broker_addresses(resp);
  Plan out;
  for (const auto& t : resp.topics) {
    std::string name = t.name.value_or("");
    if (t.error_code != 0) {
      err << "Error: topic '" << name << "': " << error_text(t.error_code) << "\n";
      out.status = 1;
      continue;
    }
    bool found = !partition;
    for (const auto& p : t.partitions) {
      if (partition && p.partition_index != *partition) continue;
      found = true;
      auto leader = brokers.find(p.leader_id);
      if (leader == brokers.end()) {
        err << "Error: " << name << "-" << p.partition_index << " has no leader\n";
        out.status = 1;
        continue;
      }
      out.by_leader[leader->second][name].push_back(p.partition_index);
    }
    if (!found) {
      err << "Error: topic '" << name << "' has no partition " << *partition << "\n";
      out.status = 1;
    }
  }
  return out;
}

int describe(const std::optional<std::string>& topic, std::optional<int32_t> partition, const std::string& bootstrap,
             std::ostream& out, std::ostream& err) {
  try {
    Plan p = plan(topic, partition, bootstrap, err);
    using Row = std::tuple<std::string, int32_t, int64_t, std::vector<std::string>>;
    std::vector<Row> rows;
    int status = p.status;
    for (const auto& [address, topics] : p.by_leader) {
      DescribeProducersRequest req;
      for (const auto& [name, partitions] : topics) {
        DescribeProducersRequest::DescribeProducersTopicRequest t;
        t.name = name;
        t.partition_indexes = partitions;
        req.topics.push_back(std::move(t));
      }
      try {
        AdminClient client(address);
        auto resp = client.call<DescribeProducersResponse>(req, 0);
        for (const auto& t : resp.topics) {
          for (const auto& part : t.partitions) {
            if (part.error_code != 0) {
              err << "Error: " << t.name << "-" << part.partition_index << ": " << error_text(part.error_code)
                  << (part.error_message ? " " + *part.error_message : "") << "\n";
              status = 1;
              continue;
            }
            for (const auto& s : part.active_producers)
              rows.push_back({t.name,
                              part.partition_index,
                              s.producer_id,
                              {t.name, std::to_string(part.partition_index), std::to_string(s.producer_id),
                               std::to_string(s.producer_epoch), or_dash(s.last_sequence), or_dash(s.last_timestamp),
                               or_dash(s.coordinator_epoch), or_dash(s.current_txn_start_offset)}});
          }
        }
      } catch (const std::exception& e) {
        err << "Error: broker " << address << ": " << e.what() << "\n";
        status = 1;
      }
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::tie(std::get<0>(a), std::get<1>(a), std::get<2>(a)) <
             std::tie(std::get<0>(b), std::get<1>(b), std::get<2>(b));
    });
    std::vector<std::vector<std::string>> table{{"TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH", "LAST-SEQUENCE",
                                                 "LAST-TIMESTAMP", "COORDINATOR-EPOCH", "TXN-START-OFFSET"}};
    for (auto& r : rows) table.push_back(std::move(std::get<3>(r)));
    print_table(out, table);
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int producers_list(const std::optional<std::string>& topic, const std::string& bootstrap, std::ostream& out,
                   std::ostream& err) {
  return describe(topic, std::nullopt, bootstrap, out, err);
}

int producers_describe(const std::string& topic, std::optional<int32_t> partition, const std::string& bootstrap,
                       std::ostream& out, std::ostream& err) {
  return describe(topic, partition, bootstrap, out, err);
}

}  // namespace runnel::app
