#include "app/transactions_command.h"

#include <algorithm>

#include "app/admin_client.h"
#include "app/coordinator_client.h"
#include "app/table.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;

}  // namespace

int transactions_list(const std::string& bootstrap, std::ostream& out, std::ostream& err) {
  try {
    // Every broker coordinates some ids: ask each, as kafka-transactions.sh does.
    std::vector<std::pair<int32_t, std::string>> brokers;
    {
      AdminClient client(bootstrap);
      MetadataRequest mreq;
      mreq.topics = std::vector<MetadataRequest::MetadataRequestTopic>{};
      auto mresp = client.call<MetadataResponse>(mreq, 1);
      for (const auto& b : mresp.brokers) brokers.push_back({b.node_id, b.host + ":" + std::to_string(b.port)});
    }
    std::vector<std::vector<std::string>> rows;
    int status = 0;
    for (const auto& [node, address] : brokers) {
      try {
        AdminClient client(address);
        ListTransactionsRequest req;
        auto resp = client.call<ListTransactionsResponse>(req, 0);
        if (resp.error_code != 0) {
          err << "Error: ListTransactions on broker " << node << " failed: " << error_text(resp.error_code) << "\n";
          status = 1;
          continue;
        }
        for (const auto& t : resp.transaction_states)
          rows.push_back(
              {t.transactional_id, std::to_string(node), std::to_string(t.producer_id), t.transaction_state});
      } catch (const std::exception& e) {
        err << "Error: broker " << node << " (" << address << "): " << e.what() << "\n";
        status = 1;
      }
    }
    std::sort(rows.begin(), rows.end());
    rows.insert(rows.begin(), {"TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"});
    print_table(out, rows);
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int transactions_describe(const std::string& transactional_id, const std::string& bootstrap, std::ostream& out,
                          std::ostream& err) {
  try {
    CoordinatorClient client(bootstrap, transactional_id, "runnel-cli", CoordinatorClient::kRetryFor,
                             CoordinatorClient::kTransaction);
    DescribeTransactionsRequest req;
    req.transactional_ids = {transactional_id};
    auto resp = client.call<DescribeTransactionsResponse>(
        req, 0, [](const auto& r) { return sole_entry_error(r.transaction_states); });
    const int32_t coordinator = client.node_id();  // the one that answered
    if (resp.transaction_states.size() != 1) {
      err << "Error: DescribeTransactions returned " << resp.transaction_states.size() << " entries\n";
      return 1;
    }
    const auto& t = resp.transaction_states[0];
    if (t.error_code != 0) {
      err << "Error: DescribeTransactions for '" << transactional_id << "' failed: " << error_text(t.error_code)
          << "\n";
      return 1;
    }
    std::string partitions;
    for (const auto& topic : t.topics)
      for (int32_t p : topic.partitions)
        partitions += (partitions.empty() ? "" : ",") + topic.topic + "-" + std::to_string(p);
    std::vector<std::vector<std::string>> rows{{"COORDINATOR", "TRANSACTIONAL-ID", "PRODUCER-ID", "PRODUCER-EPOCH",
                                                "STATE", "TIMEOUT-MS", "START-TIME-MS", "PARTITIONS"}};
    rows.push_back({std::to_string(coordinator), t.transactional_id, std::to_string(t.producer_id),
                    std::to_string(t.producer_epoch), t.transaction_state, std::to_string(t.transaction_timeout_ms),
                    t.transaction_start_time_ms < 0 ? "-" : std::to_string(t.transaction_start_time_ms),
                    partitions.empty() ? "-" : partitions});
    print_table(out, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
