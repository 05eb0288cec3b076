#include "app/produce_command.h"

#include <poll.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "app/topic_layout.h"
#include "base/error_code.h"
#include "protocol/messages.h"
#include "protocol/record_codec.h"

namespace runnel::app {
namespace {

constexpr size_t kMaxBatchRecords = 1000;
constexpr size_t kMaxBatchBytes = 512 * 1024;
constexpr int32_t kProduceTimeoutMs = 30000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// More input is ready right now (so the lines belong in the same batch).
bool more_ready(std::istream& in) {
  if (in.rdbuf()->in_avail() > 0) return true;
  pollfd p{0, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

int produce_lines(const ProduceOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    TopicLayout layout(o.bootstrap, o.topic);
    if (o.partition && (*o.partition < 0 || *o.partition >= layout.partitions())) {
      err << "Error: topic '" << o.topic << "' has no partition " << *o.partition << "\n";
      return 1;
    }
    std::mt19937 rng(std::random_device{}());
    uint64_t produced = 0;
    int status = 0;
    std::string line;
    bool eof = false;
    while (!eof) {
      // One batch per partition of the lines at hand.
      std::map<int32_t, std::vector<protocol::Record>> batches;
      int32_t sticky = static_cast<int32_t>(rng() % static_cast<uint32_t>(layout.partitions()));
      size_t records = 0, bytes = 0;
      do {
        if (!std::getline(in, line)) {
          eof = true;
          break;
        }
        protocol::Record r;
        std::string value = line;
        std::optional<std::string> key;
        if (o.key_separator) {
          auto at = line.find(*o.key_separator);
          if (at != std::string::npos) {
            key = line.substr(0, at);
            value = line.substr(at + o.key_separator->size());
          }
        }
        if (key) r.key = bytes_of(*key);
        r.value = bytes_of(value);
        int32_t p = o.partition ? *o.partition : key ? partition_for_key(*key, layout.partitions()) : sticky;
        batches[p].push_back(std::move(r));
        ++records;
        bytes += line.size();
      } while (records < kMaxBatchRecords && bytes < kMaxBatchBytes && more_ready(in));
      for (auto& [partition, recs] : batches) {
        auto batch = protocol::build_record_batch(recs, now_ms());
        protocol::ProduceRequest req;
        req.acks = o.acks;
        req.timeout_ms = kProduceTimeoutMs;
        protocol::ProduceRequest::TopicProduceData td;
        td.name = o.topic;
        protocol::ProduceRequest::PartitionProduceData pd;
        pd.index = partition;
        pd.records = protocol::Records::of(batch);
        td.partition_data.push_back(pd);
        req.topic_data.push_back(td);
        if (o.acks == 0) {
          // No answer comes: Kafka sends none for acks=0.
          layout.leader(partition).send_only(req, 8);
          produced += recs.size();
          continue;
        }
        auto resp = layout.leader(partition).call<protocol::ProduceResponse>(req, 8);
        int16_t error = -1;
        int64_t base = -1;
        std::optional<std::string> message;
        for (const auto& t : resp.responses)
          for (const auto& pr : t.partition_responses)
            if (pr.index == partition) error = pr.error_code, base = pr.base_offset, message = pr.error_message;
        if (error != 0) {
          err << "Error: " << recs.size() << " record(s) to partition " << partition
              << " failed: " << error_name(static_cast<ErrorCode>(error)) << (message ? " " + *message : "") << "\n";
          status = 1;
          continue;
        }
        produced += recs.size();
        if (o.json) {
          out << nlohmann::json{{"topic", o.topic},
                                {"partition", partition},
                                {"offset", base},
                                {"records", recs.size()}}
                     .dump()
              << "\n";
        } else if (o.verbose) {
          for (size_t i = 0; i < recs.size(); ++i)
            out << "Produced to partition " << partition << " at offset " << base + static_cast<int64_t>(i) << "\n";
        }
        out.flush();
      }
    }
    if (!o.json && !o.verbose) out << "Produced " << produced << " record(s) to " << o.topic << "\n";
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
