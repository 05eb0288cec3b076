// What runnel reads back from etcd (broker and controller records, written by
// other brokers or by hand with etcdctl) and from a data dir (meta.properties):
// decoding arbitrary bytes must give a record or nullopt, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cluster/metadata/records.h"
#include "cluster/node_meta.h"

using namespace runnel::cluster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto b = metadata::decode_broker(text)) {
    // What decodes re-encodes to something that decodes the same.
    auto again = metadata::decode_broker(metadata::encode_broker(*b));
    if (!again || !(*again == *b)) __builtin_trap();
  }
  (void)metadata::decode_controller(text);
  if (auto t = metadata::decode_topic(text)) {
    auto again = metadata::decode_topic(metadata::encode_topic(*t));
    if (!again || !(*again == *t)) __builtin_trap();
  }
  if (auto p = metadata::decode_partition_state(text)) {
    auto again = metadata::decode_partition_state(metadata::encode_partition_state(*p));
    if (!again || !(*again == *p)) __builtin_trap();
  }
  if (auto next = metadata::decode_producer_ids(text)) {
    auto again = metadata::decode_producer_ids(metadata::encode_producer_ids(*next));
    if (!again || *again != *next) __builtin_trap();
  }
  {
    auto dirs = parse_log_dir_list(text);
    if (parse_log_dir_list(format_log_dir_list(dirs)) != dirs) __builtin_trap();
  }
  if (auto meta = parse_node_meta(text)) {
    auto again = parse_node_meta(format_node_meta(*meta));
    if (!again || again->node_id != meta->node_id || again->cluster_id != meta->cluster_id) __builtin_trap();
  }
  return 0;
}
