// Answers from etcd's gateway arrive over the network: decoding arbitrary
// bytes as any of them must give a value or a Status, never crash, hang or
// allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cluster/etcd/etcd_format.h"

using namespace runnel::cluster::etcd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  RangeResponse range;
  (void)decode_range(body, range);
  PutResponse put;
  (void)decode_put(body, put);
  DeleteResponse del;
  (void)decode_delete(body, del);
  TxnResponse txn;
  (void)decode_txn(body, txn);
  LeaseGrantResponse grant;
  (void)decode_lease_grant(body, grant);
  LeaseKeepAliveResponse keepalive;
  (void)decode_lease_keepalive(body, keepalive);
  (void)decode_lease_revoke(body);
  (void)base64_decode(body);
  // The stream splitter with a small limit, fed in uneven chunks.
  WatchStreamSplitter splitter(4096);
  for (size_t i = 0; i < size; i += 7) {
    splitter.feed(body.substr(i, 7));
    while (auto line = splitter.next()) {
      WatchMessage msg;
      (void)decode_watch_message(*line, msg);
    }
  }
  return 0;
}
