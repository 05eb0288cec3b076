#include "app/log_dirs_command.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/admin_client.h"
#include "app/table.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using json = nlohmann::json;

// kafka-log-dirs.sh prints the class of the exception a directory's error
// code maps to (null when none).
json kafka_error(int16_t code) {
  if (code == 0) return nullptr;
  if (code == static_cast<int16_t>(ErrorCode::KAFKA_STORAGE_ERROR))
    return "org.apache.kafka.common.errors.KafkaStorageException";
  return std::string(error_name(static_cast<ErrorCode>(code)));
}

}  // namespace

int cluster_log_dirs(const std::string& bootstrap, const std::vector<int32_t>& brokers,
                     const std::vector<std::string>& topics, bool json_out, std::ostream& out, std::ostream& err) {
  int status = 0;
  try {
    AdminClient client(bootstrap);
    auto metadata = topics.empty() ? client.metadata(std::vector<std::string>{}) : client.metadata(topics);
    // The request: null for every replica, else each topic's partitions.
    protocol::DescribeLogDirsRequest request;
    request.topics.reset();
    if (!topics.empty()) {
      request.topics = std::vector<protocol::DescribeLogDirsRequest::DescribableLogDirTopic>{};
      for (const auto& t : metadata.topics) {
        if (t.error_code != 0) {
          err << "Error: topic " << t.name.value_or("?") << ": " << error_text(t.error_code) << "\n";
          status = 1;
          continue;
        }
        auto& asked = request.topics->emplace_back();
        asked.topic = t.name.value_or("");
        for (const auto& p : t.partitions) asked.partitions.push_back(p.partition_index);
      }
    }
    const auto addresses = broker_addresses(metadata);
    std::vector<int32_t> asked_brokers = brokers;
    if (asked_brokers.empty())
      for (const auto& [id, _] : addresses) asked_brokers.push_back(id);

    json doc{{"version", 1}, {"brokers", json::array()}};
    std::vector<std::vector<std::string>> rows{{"BROKER", "DIR", "STATUS", "PARTITION", "SIZE"}};
    for (int32_t id : asked_brokers) {
      auto address = addresses.find(id);
      if (address == addresses.end()) {
        err << "Error: broker " << id << " is not registered\n";
        status = 1;
        continue;
      }
      protocol::DescribeLogDirsResponse response;
      try {
        AdminClient broker(address->second);
        response = broker.call<protocol::DescribeLogDirsResponse>(request, 4);
      } catch (const std::exception& e) {
        err << "Error: broker " << id << " (" << address->second << "): " << e.what() << "\n";
        status = 1;
        continue;
      }
      if (response.error_code != 0) {
        err << "Error: broker " << id << ": " << error_text(response.error_code) << "\n";
        status = 1;
        continue;
      }
      json dirs = json::array();
      for (const auto& dir : response.results) {
        json partitions = json::array();
        const std::string dir_status =
            dir.error_code == 0 ? "ok" : std::string(error_name(static_cast<ErrorCode>(dir.error_code)));
        for (const auto& t : dir.topics)
          for (const auto& p : t.partitions) {
            const std::string name = t.name + "-" + std::to_string(p.partition_index);
            partitions.push_back({{"partition", name},
                                  {"size", p.partition_size},
                                  {"offsetLag", p.offset_lag},
                                  {"isFuture", p.is_future_key}});
            rows.push_back({std::to_string(id), dir.log_dir, dir_status, name, std::to_string(p.partition_size)});
          }
        if (partitions.empty()) rows.push_back({std::to_string(id), dir.log_dir, dir_status, "-", "-"});
        dirs.push_back({{"logDir", dir.log_dir}, {"error", kafka_error(dir.error_code)}, {"partitions", partitions}});
      }
      doc["brokers"].push_back({{"broker", id}, {"logDirs", dirs}});
    }
    print_report(out, json_out, doc, rows);
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
