#pragma once
// `runnel consume TOPIC`: prints records, like rpk topic consume and kcat -C.
// Reads every partition (or -p one) from -o: `beginning` (the default),
// `end`, an offset, or `@TIMESTAMP_MS` (the first record at or after it);
// stops after -c records, or with -e once every partition is at its high
// watermark, else follows new records (Fetch long polls). With -g GROUP it
// starts from the group's committed offsets (where -o is not given) and
// commits what it printed (as a simple consumer: no group membership,
// generation -1, as kcat -G's offset commits against an empty group do).
// Output: kcat's format string (-f: %s value, %k key, %t topic, %p
// partition, %o offset, %T timestamp, %S/%K lengths, \n \t escapes), or one
// JSON object per record. Control batches (transaction markers) are skipped.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace runnel::app {

struct ConsumeOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic;
  std::optional<int32_t> partition;
  std::optional<std::string> offset;  // beginning | end | N | @timestamp
  std::optional<uint64_t> count;
  bool exit_at_end = false;
  std::optional<std::string> group;
  std::string format = "%s\\n";
  bool json = false;
  // With json: also key_base64/value_base64, the exact bytes (the console's hex view).
  bool json_bytes = false;
  bool read_committed = false;
  bool progress = false;  // a progress line on `err` (app/progress_line.h), for a person watching
};

class TopicLayout;

int consume_records(const ConsumeOptions& o, std::ostream& out, std::ostream& err);
// The same through a caller's TopicLayout of o.topic, whose metadata and
// leader connections it reuses (the console reads partition after partition).
int consume_records(TopicLayout& layout, const ConsumeOptions& o, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
