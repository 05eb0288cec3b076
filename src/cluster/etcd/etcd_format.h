#pragma once
// The JSON bodies of etcd's v3 gRPC gateway (/v3/kv/*, /v3/lease/*,
// /v3/watch): request builders and response decoders. Keys and values travel
// base64-encoded, 64-bit numbers as decimal strings, and fields equal to their
// default (0, false, empty) are left out of answers.
//
// Decoders read bytes from the network, so any input must yield a value or a
// Status, never a crash or an unbounded allocation (tests/fuzz/fuzz_etcd_format).
//
// Thread-safety: pure functions; WatchStreamSplitter is a value with no sharing.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd/status.h"

namespace runnel::cluster::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt unless `text` is canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);
// The range_end that selects every key starting with `prefix` (etcd's
// clientv3.GetPrefixRangeEnd): the prefix with its last byte below 0xff
// incremented, or "\0" (all keys) when there is none.
std::string prefix_end(std::string_view prefix);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeResponse {
  int64_t revision = 0;  // the store's revision when the range was read
  std::vector<KeyValue> kvs;
  int64_t count = 0;
};

struct PutResponse {
  int64_t revision = 0;
};

struct DeleteResponse {
  int64_t revision = 0;
  int64_t deleted = 0;
};

// One comparison of a transaction: `target` of `key` against a number (for
// version, create, mod, lease) or a value.
struct Compare {
  enum class Target { kVersion, kCreate, kMod, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kMod;
  Result result = Result::kEqual;
  int64_t number = 0;
  std::string value;

  static Compare create_revision(std::string key, int64_t rev) {
    return {std::move(key), Target::kCreate, Result::kEqual, rev, {}};
  }
  static Compare mod_revision(std::string key, int64_t rev) {
    return {std::move(key), Target::kMod, Result::kEqual, rev, {}};
  }
  // The key is attached to lease `id` (0: none, or no such key).
  static Compare lease(std::string key, int64_t id) { return {std::move(key), Target::kLease, Result::kEqual, id, {}}; }
};

// One operation of a transaction.
struct Op {
  enum class Kind { kRange, kPut, kDelete };
  Kind kind = Kind::kRange;
  std::string key;
  std::string range_end;  // kRange / kDelete: empty for one key
  std::string value;      // kPut
  int64_t lease = 0;      // kPut

  static Op range(std::string key, std::string range_end = {}) {
    return {Kind::kRange, std::move(key), std::move(range_end), {}, 0};
  }
  static Op put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), {}, std::move(value), lease};
  }
  static Op del(std::string key, std::string range_end = {}) {
    return {Kind::kDelete, std::move(key), std::move(range_end), {}, 0};
  }
};

struct TxnResponse {
  int64_t revision = 0;
  bool succeeded = false;
  // The answers of the branch that ran, one per op in order; only kRange ops
  // carry key-values, the others leave theirs empty.
  std::vector<RangeResponse> responses;
};

struct LeaseGrantResponse {
  int64_t id = 0;
  int64_t ttl = 0;
};

// ttl <= 0 means the lease no longer exists.
struct LeaseKeepAliveResponse {
  int64_t id = 0;
  int64_t ttl = 0;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for a delete: the key and the deleting revision (mod_revision)
};

// One message of a watch stream.
struct WatchMessage {
  int64_t revision = 0;  // header revision
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  // Set when the watch was cancelled because its start revision was compacted
  // away: history before it is lost, so the watcher must re-list.
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// Request bodies.
std::string range_request(std::string_view key, std::string_view range_end, int64_t revision = 0,
                          bool keys_only = false);
std::string put_request(std::string_view key, std::string_view value, int64_t lease = 0);
std::string delete_request(std::string_view key, std::string_view range_end);
std::string txn_request(const std::vector<Compare>& compares, const std::vector<Op>& success,
                        const std::vector<Op>& failure);
std::string lease_grant_request(int64_t ttl_seconds);
std::string lease_id_request(int64_t id);  // keepalive and revoke
std::string compaction_request(int64_t revision);
std::string watch_create_request(std::string_view key, std::string_view range_end, int64_t start_revision);

// Response decoders. A body of the form {"error":...,"code":N} (etcd's own
// errors) gives Status::etcd_error; anything that is not the expected shape
// gives Status::malformed.
Status decode_range(std::string_view body, RangeResponse& out);
Status decode_put(std::string_view body, PutResponse& out);
Status decode_delete(std::string_view body, DeleteResponse& out);
Status decode_txn(std::string_view body, TxnResponse& out);
Status decode_lease_grant(std::string_view body, LeaseGrantResponse& out);
Status decode_lease_keepalive(std::string_view body, LeaseKeepAliveResponse& out);
Status decode_lease_revoke(std::string_view body);
// One message of a watch stream; an in-stream {"error":...} gives etcd_error.
Status decode_watch_message(std::string_view body, WatchMessage& out);

// Cuts a streamed watch answer into its messages: the gateway writes one JSON
// object per line. Holds at most `max_buffered` bytes of an unfinished line;
// past that the stream is corrupt and overflowed() turns true.
class WatchStreamSplitter {
 public:
  explicit WatchStreamSplitter(size_t max_buffered = 64 << 20) : max_buffered_(max_buffered) {}
  void feed(std::string_view bytes);
  // The next whole line (without its newline), skipping empty ones.
  std::optional<std::string> next();
  bool overflowed() const { return overflowed_; }

 private:
  std::string buffer_;
  size_t consumed_ = 0;
  size_t max_buffered_;
  bool overflowed_ = false;
};

}  // namespace runnel::cluster::etcd
