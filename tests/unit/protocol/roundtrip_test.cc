// Round-trips every request and response of every API at every version: fill
// every field the version has with a non-default value, write, read back,
// compare the values (where they are comparable) and the re-encoded bytes.
#include <gtest/gtest.h>

#include <type_traits>

#include "protocol/headers.h"
#include "protocol/messages.h"
#include "protocol/messages_testing.h"
#include "protocol/wire_bytes.h"

namespace runnel::protocol {
namespace {

using namespace wire_bytes;

template <class T>
void round_trip(int16_t version) {
  SCOPED_TRACE(::testing::Message() << typeid(T).name() << " v" << version);
  T original;
  populate(original, version, 1);
  std::vector<uint8_t> bytes = encode(original, version);

  T decoded;
  Reader r(bytes);
  decoded.read(r, version);
  EXPECT_EQ(r.remaining(), 0u);
  if constexpr (std::equality_comparable<T>) {
    EXPECT_TRUE(decoded == original);
  }
  EXPECT_EQ(encode(decoded, version), bytes);

  // A default message round-trips too (tagged fields left out, nulls kept).
  T empty;
  std::vector<uint8_t> empty_bytes = encode(empty, version);
  T empty_decoded;
  Reader r2(empty_bytes);
  empty_decoded.read(r2, version);
  EXPECT_EQ(encode(empty_decoded, version), empty_bytes);

  // Every strict prefix of the encoding is rejected.
  for (size_t n = 0; n < bytes.size(); ++n) {
    T partial;
    Reader pr(std::span<const uint8_t>(bytes.data(), n));
    EXPECT_THROW(partial.read(pr, version), DecodeError) << "prefix of " << n << " bytes";
  }
}

TEST(RoundTrip, EveryApiEveryVersion) {
  int apis = 0;
  for (const ApiInfo& api : all_apis()) {
    ++apis;
    bool known = visit_api(api.api_key, [&]<class Req, class Resp>(std::type_identity<Req>, std::type_identity<Resp>) {
      EXPECT_EQ(Req::kApiKey, api.api_key);
      EXPECT_EQ(Resp::kApiKey, api.api_key);
      EXPECT_EQ(Req::kMinVersion, api.min_version);
      EXPECT_EQ(Req::kMaxVersion, api.max_version);
      for (int16_t v = Req::kMinVersion; v <= Req::kMaxVersion; ++v) {
        round_trip<Req>(v);
        round_trip<Resp>(v);
      }
    });
    EXPECT_TRUE(known) << api.name;
  }
  EXPECT_GT(apis, 0);
}

TEST(RoundTrip, UnsupportedVersionIsRejected) {
  std::vector<uint8_t> bytes(64, 0);
  Reader r(bytes);
  ApiVersionsRequest req;
  EXPECT_THROW(req.read(r, ApiVersionsRequest::kMaxVersion + 1), DecodeError);
}

TEST(ApiTable, Names) {
  EXPECT_STREQ(api_name(18), "ApiVersions");
  EXPECT_STREQ(api_name(-5), "Unknown");
}

TEST(ApiTable, CoversTheServedApis) {
  // key, min, max as the brief and the handler registry need them.
  const int16_t expected[][3] = {
      {18, 0, 4}, {3, 0, 13}, {0, 0, 12}, {1, 0, 17}, {2, 0, 10}, {19, 0, 7}, {20, 0, 6}, {37, 0, 3}, {32, 0, 4},
      {33, 0, 2}, {44, 0, 1}, {21, 0, 2}, {60, 0, 2}, {22, 0, 4}, {17, 0, 1}, {36, 0, 2}, {23, 0, 4}, {10, 0, 4},
      {11, 0, 9}, {14, 0, 5}, {12, 0, 4}, {13, 0, 5}, {8, 0, 9},  {9, 0, 9},  {16, 0, 5}, {15, 0, 6}, {42, 0, 2},
      {47, 0, 0}, {61, 0, 0}, {75, 0, 0}, {27, 0, 1}, {24, 0, 5}, {25, 0, 3}, {26, 0, 3}, {28, 0, 3}, {65, 0, 0},
      {66, 0, 0}, {68, 0, 1}, {69, 0, 1}, {50, 0, 0}, {51, 0, 0}, {29, 0, 3}, {30, 0, 3}, {31, 0, 3}, {48, 0, 1},
      {49, 0, 1}, {35, 0, 4}, {43, 0, 2}, {74, 0, 1}, {45, 0, 1}, {46, 0, 0}, {34, 0, 2}};
  for (const auto& e : expected) {
    const ApiInfo* api = find_api(e[0]);
    ASSERT_NE(api, nullptr) << e[0];
    EXPECT_EQ(api->min_version, e[1]) << api->name;
    EXPECT_EQ(api->max_version, e[2]) << api->name;
  }
  EXPECT_EQ(all_apis().size(), std::size(expected));
  EXPECT_EQ(request_header_version(17, 1), 1);  // SaslHandshake is never flexible
  EXPECT_EQ(OffsetDeleteRequest::kFlexibleFrom, INT16_MAX);
}

}  // namespace
}  // namespace runnel::protocol
