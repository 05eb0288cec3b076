// The etcd gateway's JSON: builders and decoders against answers captured
// from etcd 3.4.23 (Debian bookworm's etcd-server).
#include "cluster/etcd/etcd_format.h"

#include <gtest/gtest.h>

namespace runnel::cluster::etcd {
namespace {

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  for (size_t n = 0; n <= all.size(); n += (n < 10 ? 1 : 37)) {
    auto text = base64_encode(all.substr(0, n));
    EXPECT_EQ(text.size() % 4, 0u);
    auto back = base64_decode(text);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, all.substr(0, n));
  }
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("f"), "Zg==");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9!"));
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("Zg==Zg=="));
}

TEST(PrefixEnd, IncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(prefix_end("/runnel/c1/"), "/runnel/c10");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(Decode, RangeWithKeyValues) {
  RangeResponse r;
  ASSERT_TRUE(decode_range(R"({"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952",)"
                           R"("revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",)"
                           R"("mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"})",
                           r)
                  .is_ok());
  EXPECT_EQ(r.revision, 2);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, "foo");
  EXPECT_EQ(r.kvs[0].value, "bar");
  EXPECT_EQ(r.kvs[0].create_revision, 2);
  EXPECT_EQ(r.kvs[0].version, 1);
  EXPECT_EQ(r.count, 1);
}

TEST(Decode, EmptyRangeLeavesOutKvs) {
  RangeResponse r;
  ASSERT_TRUE(decode_range(R"({"header":{"revision":"7"}})", r).is_ok());
  EXPECT_EQ(r.revision, 7);
  EXPECT_TRUE(r.kvs.empty());
}

TEST(Decode, FailedTxnCarriesTheFailureBranchRanges) {
  TxnResponse t;
  ASSERT_TRUE(decode_txn(R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},)"
                         R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1",)"
                         R"("value":"YmFy"}],"count":"1"}}]})",
                         t)
                  .is_ok());
  EXPECT_FALSE(t.succeeded);
  ASSERT_EQ(t.responses.size(), 1u);
  ASSERT_EQ(t.responses[0].kvs.size(), 1u);
  EXPECT_EQ(t.responses[0].kvs[0].value, "bar");
}

TEST(Decode, EtcdErrorsBecomeStatus) {
  PutResponse p;
  Status s = decode_put(R"({"error":"etcdserver: requested lease not found",)"
                        R"("message":"etcdserver: requested lease not found","code":5})",
                        p);
  EXPECT_EQ(s.code(), Status::Code::kEtcdError);
  EXPECT_EQ(s.etcd_code(), kGrpcNotFound);
  EXPECT_NE(s.message().find("lease not found"), std::string::npos);
}

TEST(Decode, ShapeMismatchesAreMalformed) {
  RangeResponse r;
  EXPECT_EQ(decode_range("", r).code(), Status::Code::kMalformed);
  EXPECT_EQ(decode_range("[1]", r).code(), Status::Code::kMalformed);
  EXPECT_EQ(decode_range(R"({"kvs":{}})", r).code(), Status::Code::kMalformed);
  EXPECT_EQ(decode_range(R"({"kvs":[{"key":"!!"}]})", r).code(), Status::Code::kMalformed);
  EXPECT_EQ(decode_range(R"({"header":{"revision":"x"}})", r).code(), Status::Code::kMalformed);
  EXPECT_EQ(decode_range(R"({"header":{"revision":true}})", r).code(), Status::Code::kMalformed);
}

TEST(Decode, LeaseGrantAndKeepAlive) {
  LeaseGrantResponse g;
  ASSERT_TRUE(decode_lease_grant(R"({"header":{"revision":"2"},"ID":"2324035727002364936","TTL":"5"})", g).is_ok());
  EXPECT_EQ(g.id, 2324035727002364936);
  EXPECT_EQ(g.ttl, 5);
  LeaseKeepAliveResponse k;
  ASSERT_TRUE(decode_lease_keepalive(R"({"result":{"header":{"revision":"3"},"ID":"1"}})", k).is_ok());
  EXPECT_EQ(k.id, 1);
  EXPECT_EQ(k.ttl, 0) << "an unknown lease comes back without a TTL";
}

TEST(Decode, WatchMessages) {
  WatchMessage m;
  ASSERT_TRUE(decode_watch_message(R"({"result":{"header":{"revision":"2"},"created":true}})", m).is_ok());
  EXPECT_TRUE(m.created);
  ASSERT_TRUE(decode_watch_message(R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"Zm9v",)"
                                   R"("create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"}},)"
                                   R"({"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"}}]}})",
                                   m)
                  .is_ok());
  ASSERT_EQ(m.events.size(), 2u);
  EXPECT_EQ(m.events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(m.events[0].kv.value, "bar");
  EXPECT_EQ(m.events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(m.events[1].kv.mod_revision, 4);
  ASSERT_TRUE(decode_watch_message(R"({"result":{"header":{"raft_term":"2"},"canceled":true,)"
                                   R"("compact_revision":"3"}})",
                                   m)
                  .is_ok());
  EXPECT_TRUE(m.canceled);
  EXPECT_EQ(m.compact_revision, 3);
  Status s = decode_watch_message(R"({"error":{"grpc_code":14,"http_code":503,"message":"unavailable"}})", m);
  EXPECT_EQ(s.code(), Status::Code::kEtcdError);
  EXPECT_EQ(s.etcd_code(), 14);
  EXPECT_EQ(decode_watch_message(R"({"result":{"events":[{"type":"MOVE","kv":{}}]}})", m).code(),
            Status::Code::kMalformed);
}

TEST(Build, TxnRequestNamesTargetsAsEtcdDoes) {
  auto body = txn_request({Compare::create_revision("c", 0)}, {Op::put("c", "1", 42)}, {Op::range("c")});
  EXPECT_NE(body.find(R"("target":"CREATE")"), std::string::npos);
  EXPECT_NE(body.find(R"("create_revision":"0")"), std::string::npos);
  EXPECT_NE(body.find(R"("lease":"42")"), std::string::npos);
  EXPECT_NE(body.find(R"("request_range")"), std::string::npos);
  // A key's lease (the controlled-shutdown mark rewrites only our own registration).
  auto leased = txn_request({Compare::lease("b", 7)}, {Op::put("b", "{}", 7)}, {});
  EXPECT_NE(leased.find(R"("target":"LEASE")"), std::string::npos);
  EXPECT_NE(leased.find(R"("lease":"7")"), std::string::npos);
}

TEST(WatchStreamSplitter, CutsLinesAcrossChunks) {
  WatchStreamSplitter s;
  s.feed("{\"a\":1}\n{\"b\"");
  EXPECT_EQ(s.next(), "{\"a\":1}");
  EXPECT_FALSE(s.next());
  s.feed(":2}\r\n\n");
  EXPECT_EQ(s.next(), "{\"b\":2}");
  EXPECT_FALSE(s.next());
}

TEST(WatchStreamSplitter, RefusesAnEndlessLine) {
  WatchStreamSplitter s(16);
  s.feed("0123456789");
  s.feed("0123456789");
  EXPECT_TRUE(s.overflowed());
  EXPECT_FALSE(s.next());
}

}  // namespace
}  // namespace runnel::cluster::etcd
