#pragma once
// `runnel produce TOPIC`: records from standard input, one per line, like
// rpk topic produce and kcat -P. A line is "KEY<sep>VALUE" with -k SEP, else
// a value without key. Keyed records go where Kafka's default partitioner
// puts them (murmur2), keyless ones to one partition per batch (sticky, as
// the Java client does); -p forces a partition. Lines that arrive together
// go out as one batch per partition; each is acknowledged (acks) before the
// next is read, so what was confirmed is on the broker. Headers are not
// supported yet (record_codec has none).
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace runnel::app {

struct ProduceOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic;
  std::optional<std::string> key_separator;
  std::optional<int32_t> partition;
  int16_t acks = -1;
  int compression = 0;                                       // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
  std::vector<std::pair<std::string, std::string>> headers;  // -H key=value: on every record
  bool json = false;                                         // one JSON object per batch instead of text
  bool verbose = false;                                      // a line per record (the default when stdin is a terminal)
  bool progress = false;  // a progress line on `err` (app/progress_line.h), for a person watching
};

// Returns 0 when every line was acknowledged, 1 otherwise.
int produce_lines(const ProduceOptions& o, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
