#include "app/produce_command.h"

#include <poll.h>

#include <map>
#include <nlohmann/json.hpp>

#include "app/progress_line.h"
#include "app/record_sender.h"
#include "base/error_code.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

constexpr size_t kMaxBatchRecords = 1000;
constexpr size_t kMaxBatchBytes = 512 * 1024;

// More input is ready right now (so the lines belong in the same batch).
bool more_ready(std::istream& in) {
  if (in.rdbuf()->in_avail() > 0) return true;
  pollfd p{0, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

}  // namespace

int produce_lines(const ProduceOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    TopicLayout layout(o.bootstrap, o.topic);
    if (o.partition && (*o.partition < 0 || *o.partition >= layout.partitions())) {
      err << "Error: topic '" << o.topic << "' has no partition " << *o.partition << "\n";
      return 1;
    }
    uint64_t produced = 0;
    int status = 0;
    ProgressLine progress(err, "produced", o.progress);
    std::string line;
    bool eof = false;
    while (!eof) {
      // The lines at hand go out together: one batch per partition.
      std::vector<OutgoingRecord> records;
      size_t bytes = 0;
      do {
        if (!std::getline(in, line)) {
          eof = true;
          break;
        }
        OutgoingRecord r;
        r.partition = o.partition;
        r.value = line;
        r.headers = o.headers;
        if (o.key_separator) {
          auto at = line.find(*o.key_separator);
          if (at != std::string::npos) {
            r.key = line.substr(0, at);
            r.value = line.substr(at + o.key_separator->size());
          }
        }
        records.push_back(std::move(r));
        bytes += line.size();
      } while (records.size() < kMaxBatchRecords && bytes < kMaxBatchBytes && more_ready(in));
      if (records.empty()) break;
      auto sent = send_records(layout, o.topic, records, o.acks, o.compression);
      uint64_t acknowledged = 0;
      for (const auto& s : sent) acknowledged += s.error == 0;
      progress.add(acknowledged, bytes);
      std::map<int32_t, std::pair<int64_t, size_t>> batches;  // partition -> (first offset, records)
      for (const auto& s : sent) {
        if (s.error != 0) {
          err << "Error: a record to partition " << s.partition
              << " failed: " << error_name(static_cast<ErrorCode>(s.error))
              << (s.message.empty() ? "" : " " + s.message) << "\n";
          status = 1;
          continue;
        }
        ++produced;
        auto& b = batches.try_emplace(s.partition, s.offset, 0).first->second;
        ++b.second;
        if (o.verbose && !o.json) out << "Produced to partition " << s.partition << " at offset " << s.offset << "\n";
      }
      if (o.json)
        for (const auto& [partition, b] : batches)
          out << nlohmann::json{{"topic", o.topic},
                                {"partition", partition},
                                {"offset", b.first},
                                {"records", b.second}}
                     .dump()
              << "\n";
      out.flush();
    }
    progress.finish();
    if (!o.json && !o.verbose) out << "Produced " << produced << " record(s) to " << o.topic << "\n";
    return status;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
